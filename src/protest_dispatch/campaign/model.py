"""The campaign file's contract, as pydantic models; each field's rule is in ``fields``."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from protest_dispatch.campaign.fields import (
    MAX_CLOSED,
    MAX_NAME,
    FieldError,
    country_code,
    duration,
    email_address,
    header_safe,
    iso_date,
    office_hours,
    phone_number,
    postal_address,
    printable,
    public_key_text,
    single_spaced,
    slug,
    subjects,
    template_name,
    timezone_name,
    update_url,
)
from protest_dispatch.vocabulary import SendWindow

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Printable = Annotated[str, AfterValidator(printable)]
Slug = Annotated[NonEmpty, StringConstraints(max_length=64), AfterValidator(slug)]
HeaderText = Annotated[NonEmpty, AfterValidator(header_safe)]
Name = Annotated[HeaderText, StringConstraints(max_length=MAX_NAME), AfterValidator(single_spaced)]
Email = Annotated[str, BeforeValidator(email_address)]
Country = Annotated[str, BeforeValidator(country_code)]
Phone = Annotated[str, BeforeValidator(phone_number)]
PostalAddress = Annotated[str, BeforeValidator(postal_address)]
TemplateName = Annotated[NonEmpty, AfterValidator(template_name), AfterValidator(printable)]
CallScriptName = Annotated[
    NonEmpty, StringConstraints(pattern=r".*\.j2$"), AfterValidator(printable)
]
TimeZone = Annotated[NonEmpty, AfterValidator(timezone_name)]
Subjects = Annotated[str | tuple[str, ...], BeforeValidator(subjects)]
OfficeHoursText = Annotated[Printable, AfterValidator(office_hours)]
Duration = Annotated[
    timedelta,
    BeforeValidator(duration),
    WithJsonSchema({"type": "string", "pattern": r"^(\d+d)?(\d+h)?(\d+m)?$"}),
]
IsoDate = Annotated[date, BeforeValidator(iso_date)]
ClosedText = Annotated[
    NonEmpty, StringConstraints(max_length=MAX_CLOSED), AfterValidator(printable)
]
PublicKeyText = Annotated[NonEmpty, AfterValidator(public_key_text)]
UpdateUrl = Annotated[NonEmpty, StringConstraints(max_length=2000), AfterValidator(update_url)]
AttachmentName = Annotated[NonEmpty, StringConstraints(max_length=255), AfterValidator(header_safe)]
"""A file under attachments/; the files themselves are checked in loading (attachments.py)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CampaignInfo(Strict):
    id: Slug = Field(
        description="The campaign's id: lower-case letters, digits and '-'. The send log and "
        "a signed campaign's trusted key are kept under it, so it never changes.",
        examples=["kz-smk-2011"],
    )
    title: Printable | None = Field(
        None,
        description="The campaign's name as activists see it in previews and summaries.",
        examples=["Kazakhstan 2011: defend the Socialist Movement Kazakhstan activists"],
    )
    subject: Subjects = Field(
        description="Every letter's subject line (a target's own 'subject' wins); one line, "
        "or a list of lines of which each sender gets one.",
        examples=["Drop the charges against the Socialist Movement Kazakhstan activists"],
    )
    cc: tuple[Email, ...] = Field(
        (),
        description="Addresses that get a copy of every letter (Cc), one bare address each.",
        examples=[["copies@example.org"]],
    )
    reply_to: Email | None = Field(
        None,
        description="Where replies to every letter go (Reply-To), one bare address.",
        examples=["replies@example.org"],
    )
    public_key: PublicKeyText | None = Field(
        None,
        description="The organiser's minisign public key (the RW... line 'protest keygen' "
        "prints). With it, 'protest sign' signs the campaign and every activist's protest "
        "checks that signature.",
        examples=["RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"],
    )
    update_url: UpdateUrl | None = Field(
        None,
        description="Where the organiser publishes the campaign archive (.tar.gz or .zip); "
        "'protest get' with no address fetches it from here. https:// only.",
        examples=["https://example.org/campaigns/kz-smk-2011.tar.gz"],
    )
    attachments: tuple[AttachmentName, ...] = Field(
        (),
        description="Files in the attachments/ folder beside this file that go with every "
        "letter: PDF, PNG, JPEG, UTF-8 text or ODT; at most 10 files and 10 MiB a letter.",
        examples=[["appeal.pdf"]],
    )
    starts: IsoDate | None = Field(
        None,
        description="The first day letters go (YYYY-MM-DD, UTC); before it send sends nothing.",
        examples=["2011-09-22"],
    )
    ends: IsoDate | None = Field(
        None,
        description="The last day letters go (YYYY-MM-DD, UTC); after it send sends nothing.",
        examples=["2011-10-31"],
    )
    closed: ClosedText | None = Field(
        None,
        description="The campaign is over: send, calls and followup show this text and do "
        "nothing more (set it when, say, the charges are dropped).",
        examples=["The charges were dropped on 3 May. Thank you!"],
    )
    timezone: TimeZone | None = Field(
        None,
        description="The IANA time zone of targets that set none (their office hours).",
        examples=["Asia/Almaty"],
    )
    office_hours: OfficeHoursText | None = Field(
        None,
        description="The office hours of targets that set none: spans 'HH:MM-HH:MM' with "
        "optional days, separated by ';'.",
        examples=["09:00-18:00 Mon-Fri"],
    )
    send_window: Annotated[
        SendWindow, WithJsonSchema({"type": "string", "enum": [w.value for w in SendWindow]})
    ] = Field(
        SendWindow.ANY,
        description="'office_hours': each letter goes only in its target's office hours; "
        "'any' (the default): at any time.",
        examples=["office_hours"],
    )
    spread: Duration | None = Field(
        None,
        description="Spread the senders' letters over this long after each window opens "
        "(like 3h, 90m, 1h30m); each sender's moment is fixed.",
        examples=["3h"],
    )
    own_words: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description="Every letter must carry at least this many words of the sender's own "
        "(a note, or their own version); send refuses a letter with fewer.",
        examples=[20],
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> CampaignInfo:
        if self.starts is not None and self.ends is not None and self.ends < self.starts:
            raise FieldError(
                f"is {self.ends}, before 'starts' ({self.starts}); a campaign ends after it starts",
                field="ends",
            )
        return self


class Target(Strict):
    id: Slug = Field(
        description="The target's id: lower-case letters, digits and '-'; unique in the file. "
        "The send log records each letter under it.",
        examples=["supreme-court"],
    )
    name: Name = Field(
        description="Whom the letter goes to: a person or an office (the To header's name).",
        examples=["Ministry of Foreign Affairs of the Republic of Kazakhstan"],
    )
    role: Printable | None = Field(
        None,
        description="The person's office, shown in previews and available to letters.",
        examples=["Head of the Supreme Court of Kazakhstan"],
    )
    email: Email | None = Field(
        None,
        description="The target's address (To), one bare address; write its source in a "
        "comment. Without it the target is a phone call.",
        examples=["ministry@example.org"],
    )
    cc: tuple[Email, ...] = Field(
        (),
        description="Addresses that get a copy of this target's letter (Cc).",
        examples=[["office@example.org"]],
    )
    phone: Phone | None = Field(
        None,
        description="An international phone number: '+', the country code, the number. "
        "A target with a phone and no email is on the call sheet.",
        examples=["+7 7172 747570"],
    )
    fax: Phone | None = Field(
        None,
        description="A fax number, written like 'phone'.",
        examples=["+7 7172 747571"],
    )
    postal_address: PostalAddress | None = Field(
        None,
        description="Where a letter on paper goes ('protest print'): the lines an envelope "
        "shows, at most 8 of 60 characters; write its source in a comment.",
        examples=["Ministry of Foreign Affairs\n1 Example Street\n010000 Astana\nKazakhstan"],
    )
    country: Country | None = Field(
        None,
        description="An ISO 3166-1 country code: only senders in that country write to this "
        "target (an embassy in their country). Quote it: YAML reads a bare NO as false.",
        examples=["GB"],
    )
    template: TemplateName | None = Field(
        None,
        description="The letter, a file in letters/ ending in .md.j2 or .txt.j2; needed with "
        "an email.",
        examples=["letter.md.j2"],
    )
    subject: Subjects | None = Field(
        None,
        description="This target's own subject line (or a list of them), instead of the "
        "campaign's.",
        examples=["Appeal on behalf of the Socialist Movement Kazakhstan activists"],
    )
    timezone: TimeZone | None = Field(
        None,
        description="The target's IANA time zone: its office hours are in it, and the call "
        "sheet shows its local time.",
        examples=["Asia/Almaty"],
    )
    office_hours: OfficeHoursText | None = Field(
        None,
        description="When the office is open: spans 'HH:MM-HH:MM' with optional days "
        "(Mon-Fri, Mon,Wed,Fri, Sat), separated by ';'; needs a timezone.",
        examples=["09:00-18:00 Mon-Fri"],
    )
    call_script: CallScriptName | None = Field(
        None,
        description="What to say on the phone: a template in letters/ ending in .j2.",
        examples=["call.txt.j2"],
    )
    attachments: tuple[AttachmentName, ...] = Field(
        (),
        description="Files in attachments/ that go with this target's letter, after the "
        "campaign's.",
        examples=[["statement.pdf"]],
    )

    @model_validator(mode="after")
    def _reachable(self) -> Target:
        if self.email is None and self.phone is None and self.postal_address is None:
            raise FieldError(
                "needs at least one of an email address, a phone number or a postal address",
                field="email",
            )
        if self.is_paper_only and self.template is None:
            raise FieldError(
                "has only a postal address, so it needs a 'template' (the letter to print)",
                field="template",
            )
        if self.email is not None and self.template is None:
            raise FieldError(
                "has an email address, so it needs a 'template' (a letter in letters/)",
                field="template",
            )
        return self

    @property
    def is_call(self) -> bool:
        """A target with a phone and no email is a call to make, never a failed letter."""
        return self.email is None and self.phone is not None

    @property
    def is_paper_only(self) -> bool:
        """Reached only by post: neither a letter to send nor a call to make."""
        return self.email is None and self.phone is None

    @property
    def has_paper_letter(self) -> bool:
        """Whether ``protest print`` can make this target's letter."""
        return self.postal_address is not None and self.template is not None


class Campaign(Strict):
    """A campaign file (targets.yaml): who the letters go to and what they say."""

    campaign: CampaignInfo = Field(
        description="What the whole campaign shares: its id, subject, copies and signing key.",
        examples=[{"id": "kz-smk-2011", "subject": "Drop the charges"}],
    )
    targets: tuple[Target, ...] = Field(
        min_length=1,
        description="The officials to write to or call, at least one.",
        examples=[
            [
                {
                    "id": "foreign-ministry",
                    "name": "Ministry of Foreign Affairs",
                    "email": "ministry@example.org",
                    "template": "letter.md.j2",
                }
            ]
        ],
    )


class Sender(Strict):
    """Who the letters are from; notes are the sender's own words, not a header."""

    name: Name
    email: Email
    country: Country | None = None
    note: str | None = None
    postal_address: PostalAddress | None = None
    """Where the sender lives, for the letterhead of a letter on paper."""

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]

"""protest: email protest letters to the officials a campaign targets, safely."""

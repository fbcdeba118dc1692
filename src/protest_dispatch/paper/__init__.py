"""Letters on paper: the letter as data (``document``) and typeset as PDF (``typeset``)."""

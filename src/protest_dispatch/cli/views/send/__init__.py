"""How ``protest send`` looks, in the order a run shows it.

``preview``: the dry run, each letter as it would go. ``notices``: what the person
should know before anything goes (validate shows the campaign's part too) and why a
letter is held back. ``plan``: the letters about to go and the question. ``run``: the
progress as letters go, and the summary after.
"""

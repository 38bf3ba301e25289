"""The ledger: conversations, turns, feedback, escalations, onboarding events, API keys.

`models` declares the tables; `writes` is the only code that writes them; `outcomes` derives
each conversation's outcome, in Python and as one SQL expression for reports.
"""

"""Test set-up for the core: the hypothesis profiles live in the root conftest.py.

Which core properties get the full 10,000 examples in CI: the money ones (amount,
parse_amount, round_money, allocate), the settlement of a partner-day, basket splits and
the text parsers (amounts, periods). The others cap themselves in their module, ``MEDIUM``
(2,000: identifier check digits, extra money properties) or ``LIGHT`` (500: serialization,
premises).
"""

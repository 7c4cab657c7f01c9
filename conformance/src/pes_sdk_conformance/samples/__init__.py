"""Golden sample records and hostile inputs, shipped as package data.

``debts.json``, ``payments.json`` and ``readings.json`` hold the canonical record sets of the
format checks: money to the kopeck (``0.01``, ``0.10``, ``-150.00``, ``123456789012.34``),
Cyrillic text (with ``ё``), accounts with leading zeros (``007``, ``0000012345``, thirty
characters), premises written as people write them (``12а``, ``12/1``, ``12-1``, ``кв. 5``,
``12, ком. 3``, none at all); meter values that keep their precision (``12345.678``,
``0.100``, ``7``, ``1.00000001``) over one to three tariffs, meter numbers in Cyrillic
(``ГВС №5ё``). Their characters exist in every encoding the SDK reads (UTF-8, cp1251,
cp866, KOI8-R), so every text format can carry them. ``hostile/`` holds format-independent
inputs no reader may crash on (empty file, a lone BOM, random bytes, NUL runs, UTF-16, …).
"""

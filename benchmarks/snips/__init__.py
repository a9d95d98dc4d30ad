"""The SNIPS benchmark pack: one skill per SNIPS intent, a converter from the goo2018 split, a scorer."""

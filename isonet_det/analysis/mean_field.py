"""``isonet_theory.mean_field`` under its former name: the mean-field maths moved to the
numpy-only top-level package ``isonet_theory`` (see its docstring for why), and this module is
that module, so ``isonet_det.analysis.mean_field.chi_1 is isonet_theory.mean_field.chi_1``."""
import sys

from isonet_theory import mean_field

sys.modules[__name__] = mean_field

"""Pure statistics: drift tests, multiple-testing control and the domain classifier.

Everything here takes distribution summaries (:class:`NumericDistribution`,
:class:`CategoricalDistribution`) or bounded samples, never whole tables, so the same code
serves a 10-row fixture and a sketched billion-row table. Exact summaries reproduce the
reference implementations (scipy, Evidently's formulas); sketches stay within documented
error bounds. The definitions and every choice are in docs/drift-statistics.md.

Naming: tests return a :class:`DriftResult`; p-value tests are judged "drift when the
corrected p-value is below the threshold", effect sizes "drift when above" (see
:class:`DriftTest`).
"""

from assay.stats.binned import SharedBins, jensenshannon, psi, shared_bins, smooth_zero_shares
from assay.stats.categorical import OTHER, CategoryTable, category_table, chi_squared
from assay.stats.distributions import (
    CategoricalDistribution,
    NumericDistribution,
    QuantileSketch,
)
from assay.stats.domain_classifier import DomainClassifierResult, domain_classifier
from assay.stats.drift import ks, wasserstein, wasserstein_normed
from assay.stats.multiple_testing import benjamini_hochberg
from assay.stats.results import DriftResult
from assay.stats.selection import (
    DEFAULT_ALPHA,
    DEFAULT_EXACT_MAX_N,
    DRIFT_TESTS,
    DriftTest,
    applicable_tests,
    choose_test,
    get_test,
    run_test,
)

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_EXACT_MAX_N",
    "DRIFT_TESTS",
    "OTHER",
    "CategoricalDistribution",
    "CategoryTable",
    "DomainClassifierResult",
    "DriftResult",
    "DriftTest",
    "NumericDistribution",
    "QuantileSketch",
    "SharedBins",
    "applicable_tests",
    "benjamini_hochberg",
    "category_table",
    "chi_squared",
    "choose_test",
    "domain_classifier",
    "get_test",
    "jensenshannon",
    "ks",
    "psi",
    "run_test",
    "shared_bins",
    "smooth_zero_shares",
    "wasserstein",
    "wasserstein_normed",
]

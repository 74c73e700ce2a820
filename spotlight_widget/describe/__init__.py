"""What a spotlight is: group breakdowns with significance, token and label summaries, a caption.

Everything here compares the spotlight's *weighted* distribution (example i counts
``c_i * w_i``: its multiplicity times its kernel weight) with the whole data set's (``c_i``).

How surprising a share is
-------------------------
A spotlight's weights are soft, so its share of a group is a weighted mean of 0/1
indicators, ``p_in = sum c w y / sum c w``. If the group were unrelated to the weights
(indicators independent with probability ``p_all``), that mean would have variance
``p_all (1 - p_all) / n_eff`` with Kish's effective sample size

    n_eff = (sum_i c_i w_i)^2 / sum_i c_i w_i^2,

which is the number of members for 0/1 weights; for soft weights in [0, 1] it lies between
the mass ``sum c w`` and the number of examples with a positive weight (many faint members
carry less information than as many full ones). The tests below treat ``x = n_eff * p_in`` as a binomial count out of
``n_eff`` draws at rate ``p_all``; the binomial tails are extended to non-integer counts
through the regularized incomplete beta function, so with 0/1 weights they are exactly the
binomial test and the Clopper-Pearson interval. Drawing without replacement (a spotlight
is part of the data it is compared with) only narrows the true spread, so the p-values
err on the side of caution. They are per group and not corrected for the number of groups
looked at.
"""

from __future__ import annotations

from .captions import caption
from .groups import breakdown, describe, groups_of
from .labels import LabelSummary, label_summary
from .stats import effective_size
from .tokens import TokenSummary, default_tokenizer, token_summary

__all__ = [
    "LabelSummary",
    "TokenSummary",
    "breakdown",
    "caption",
    "default_tokenizer",
    "describe",
    "effective_size",
    "groups_of",
    "label_summary",
    "token_summary",
]

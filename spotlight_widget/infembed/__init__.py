"""InfEmbed: slice discovery by clustering influence embeddings (Wang et al., NeurIPS 2023).

- :func:`influence_embeddings` computes ``mu(z) = lambda^-1/2 M^T grad L(z)`` from a model,
  its loss and training data (:func:`factor_hessian` + :func:`embed_examples`);
  :func:`head_influence_embeddings` does it for a final Linear layer given its features;
- :func:`infembed` partitions the test data by K-means with normalised centroids;
- :func:`infembed_rule` searches recursively for slices meeting an accuracy or loss rule;
- :func:`slice_opponents` names the training examples that hurt a slice most.

Importing this package registers "infembed" with ``spotlight_widget.slices.find_slices``
(on precomputed influence embeddings).
"""

from ..slices import register_method
from .discovery import infembed, infembed_rule, infembed_slices
from .embeddings import InfluenceEmbeddings, embed_examples, influence_embeddings
from .factor import HessianFactors, factor_hessian
from .head import head_influence_embeddings
from .kmeans import Clustering, normalized_kmeans
from .opponents import slice_opponents

register_method("infembed", infembed_slices)

__all__ = [
    "Clustering",
    "HessianFactors",
    "InfluenceEmbeddings",
    "embed_examples",
    "factor_hessian",
    "head_influence_embeddings",
    "infembed",
    "infembed_rule",
    "infembed_slices",
    "influence_embeddings",
    "normalized_kmeans",
    "slice_opponents",
]

"""The SpotCheck benchmark (Plumb et al., TMLR 2023), rebuilt offline and scaled for a small CPU.

Synthetic images where a model must say whether a square is present; each experimental
configuration (EC) plants 1-3 blindspots, conjunctions of image attributes whose square
images are labelled "no square" in training. A blindspot discovery method audits the
trained model on the test images and is scored by how many blindspots it recovers (DR)
and how many of its groups recover none (FDR). See ``shared/notes/spotcheck.md`` and
``benchmarks/README.md``.

Modules, in pipeline order:

- ``config``: the EC sampler;
- ``images``: rendering (64 px instead of 224) and the ground truth;
- ``models``, ``pretrain``, ``train``: the CNN backbone (pretrained once on generic
  images), each EC's head, and its training;
- ``audit``: one EC end to end as an ``Audit``, cached on disk (``load_audit``);
- ``metrics``: DR and FDR with the error filter;
- ``methods``, ``runner``, ``__main__``: the methods compared and the benchmark run.
"""

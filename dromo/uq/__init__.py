"""Uncertainty quantification with ROM dictionaries (issue 19).

* :mod:`dromo.uq.random_field` — Karhunen–Loève modes of a random temperature field on the mesh, computed in
  parallel; :class:`~dromo.uq.random_field.FieldDraw`, one draw, added to a case's temperature;
* :mod:`dromo.uq.sampling` — reproducible draws, spread over the ranks;
* :mod:`dromo.uq.dictionary` — ``dromo dictionary``: HF training draws, sine dissimilarity, k-medoids, one
  local ROM per cluster, the classifier; the dictionary archive;
* :mod:`dromo.uq.run` — ``dromo uq``: Monte Carlo over the draws with the dictionary, quantities of interest,
  statistics.

Floor: above :mod:`dromo.rom` (it uses the offline and online stages), below :mod:`dromo.cli`.
"""

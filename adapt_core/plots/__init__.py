"""Figures as pure functions: each takes library results and returns a plotly figure (or an HTML string).

Nothing here imports streamlit, so every figure is tested without the app and can be used from a notebook.
`data` (label balance, lengths), `tokens` (PPLu histogram, highlighted tokenization), `sensitivity` (heatmaps of
D, G and S), `runs` (live curves, comparisons across runs), `stc` (Sparsify-then-Classify).
"""

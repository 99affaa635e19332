"""Figures as pure functions: each takes library results and returns a plotly figure (or an HTML string).

Nothing here imports streamlit, so every figure is tested without the app and can be used from a notebook.
One module per subject, named `<subject>_figures`: `data_figures` (label balance, lengths), `tokens_figures` (PPLu
histogram, highlighted tokenization), `sensitivity_figures` (heatmaps of D, G and S), `runs_figures` (live curves,
comparisons across runs), `analysis_figures` (confusions, per-class F1, the budget frontier), `stc_figures`
(Sparsify-then-Classify); `style` holds the colours and axis rules they share.
"""

"""The studio's Streamlit glue: session state and the shared sidebar, cached loaders, form widgets.

The only Python outside `app.py` and `pages/` that imports streamlit. It holds no logic of its own: it renders what
`adapt_core` computes (form specs, figures, run folders) and keeps the user's choices in `st.session_state`.
"""

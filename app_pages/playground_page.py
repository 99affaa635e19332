"""Playground: pick a finished run, type a text, and see the label probabilities and how the run's tokenizer
splits the text, with its new tokens highlighted."""

import streamlit as st

from adapt_core.plots.runs_figures import probability_bars, run_choice
from adapt_core.run_reader import list_runs
from studio import resources
from studio.widgets import guard, tokens, unreadable_runs

st.title("Playground")
st.caption("Step 6 · try a trained classifier on your own text.")
runs = list_runs()
unreadable_runs(runs)
finished = [r for r in runs if r.state == "completed" and (r.dir / "model").is_dir()]
if not finished:
    st.info("No finished run yet: train one on the Train page.", icon=":material/info:")
    st.stop()


run = st.selectbox("Run", finished, format_func=run_choice, key="playground_run")
text = st.text_area("Text", value="I still have not received my new card, can you check?", key="playground_text")
if not text.strip():
    st.info("Type a text above.", icon=":material/info:")
    st.stop()
with guard("Predicting"):
    predictor = resources.predictor(str(run.dir), (run.dir / "model").stat().st_mtime)
    probabilities = predictor.predict_proba([text])[0]
    pieces = predictor.tokens(text)
best = int(probabilities.argmax())
left, right = st.columns([3, 1])
left.metric("Prediction", predictor.label_names[best])
right.metric("Probability", f"{100 * probabilities[best]:.1f} %")
st.plotly_chart(probability_bars(predictor.label_names, probabilities), key="probabilities")
tokens(pieces, "Tokens (new ones highlighted)")

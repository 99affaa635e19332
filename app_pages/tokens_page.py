"""Tokens: mine frequent word sequences from the training texts, score them by unigram-normalised perplexity, and
vet which become new tokens — one by one in the table or in bulk over a filter, reading each candidate in its
contexts, ranked by how class-specific it is — while seeing how texts tokenize before and after. Every decision is
saved at once (under the runs folder) with who made it and when, and can be undone; the filter and sort live in the
URL, so nothing is lost on a reload. The decision area is a fragment: a click reruns only it."""

import streamlit as st

from adapt_core.candidates import find_candidates
from adapt_core.mining import MiningConfig
from adapt_core.perplexity import PerplexityConfig
from adapt_core.plots.tokens_figures import pplu_filter_note, pplu_histogram
from adapt_core.token_policy import TokenPolicy
from adapt_core.vetting import merge_decisions
from studio import resources, state, vetting_view
from studio.widgets import config_form, guard, progress_bar

st.title("Tokens")
st.caption(
    "Step 2 · task-specific vocabulary: closed frequent n-grams on word boundaries, ranked by how class-specific "
    "they are, with PPLu (lower = a more cohesive unit) beside, vetted by you."
)
choice = state.current()
with guard("Loading the dataset"):
    task = resources.task(choice.dataset, choice.data)
    tokenizer = resources.tokenizer(choice.model)
path, vetted = vetting_view.load(choice)

with st.expander("Mine candidates", expanded=not len(vetted), icon=":material/search:"):
    mining = config_form(MiningConfig, "mining", exclude=("mode",), columns=5)
    scoring = st.toggle("Score PPLu with a language model", value=True, key="pplu_on")
    pplu = (
        config_form(PerplexityConfig, "pplu", only=("scorer", "threshold", "max_new_tokens", "batch_size"), columns=4)
        if scoring
        else None
    )
    if st.button("Mine", type="primary", disabled=mining is None or (scoring and pplu is None)):
        bar, progress = progress_bar("Scoring PPLu")
        with st.spinner(f"Mining {len(task['train'])} training texts…"), guard("Mining"):
            found = find_candidates(task, choice.model, mining, pplu, progress, tokenizer=tokenizer)
        # merged into the list as it is now: mining takes minutes, in which another tab may have decided
        vetting_view.save(path, merge_decisions(vetting_view.read(path), found))
        st.rerun()
if not len(vetted):
    st.info("No candidates yet for this dataset and model: mine them above.", icon=":material/info:")
    st.stop()

st.subheader("Vet")
where = vetting_view.candidate_filter()
st.caption(pplu_filter_note(vetted.to_frame(), where.max_pplu))
with st.expander("PPLu of every candidate, with the filter's cut and the cap", icon=":material/bar_chart:"):
    # what mining scored and where the filter cuts: no decision changes it, so it stays out of the decision area
    cutoff = where.max_pplu if where.max_pplu is not None else (pplu.threshold if pplu else None)
    cap = pplu.resolve_max_new_tokens(tokenizer.vocab_size) if pplu else None  # as mining caps the new tokens
    st.plotly_chart(pplu_histogram(vetted.to_frame(), cutoff, cap=cap, by_decision=False), key="pplu_hist")
with st.popover(
    "Accept by policy",
    icon=":material/auto_awesome:",
    help="Decide every candidate by the policy a run "
    "without a vetted list uses (class-specific first, generic phrases out, one token per phrase, "
    "every token must fire), each with its reason; then vet the proposal.",
):
    policy = config_form(TokenPolicy, "policy", exclude=("scorer", "min_support"), columns=2)
    if st.button("Decide all candidates", type="primary", disabled=policy is None, key="accept_policy"):
        with st.spinner("Applying the policy…"), guard("Accepting by policy"):
            decided = vetting_view.accept_by_policy(path, task, tokenizer, policy)
        st.toast(f"Policy: {decided['accepted']} accepted, {decided['rejected']} rejected (reasons in the table)")
        st.rerun()


@st.fragment
def decisions() -> None:
    """Everything a decision changes, redrawn alone on a click: counts, table, context, before / after, export."""
    path, vetted = vetting_view.load(choice)
    shown = vetted.where(where)
    cols = st.columns(4)
    cols[0].metric("Candidates", len(vetted))
    for col, (decision, n) in zip(cols[1:], vetted.counts().items(), strict=True):
        col.metric(decision.capitalize(), n)
    left, right = st.columns([3, 1])
    with left.container(horizontal=True):
        vetting_view.bulk_buttons(path, shown)
        vetting_view.undo_button(path)
    with right:
        sort_by, descending = vetting_view.sort_controls()
    frame = vetting_view.sorted_table(vetting_view.table(vetted, shown, task["train"].labels), sort_by, descending)
    vetting_view.editor(frame, path)
    st.subheader("In context")
    vetting_view.in_context(list(frame["text"]), task["train"], vetted.label_names or task.label_names)
    st.subheader("Before and after")
    vetting_view.before_after(choice, task, vetted.accepted())
    st.subheader("Export and import")
    vetting_view.export_import(path, vetted)


decisions()

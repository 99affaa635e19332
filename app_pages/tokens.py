"""Tokens: mine frequent word sequences from the training texts, score them by unigram-normalised perplexity, and
vet which become new tokens — one by one in the table or in bulk over a filter — while seeing how texts tokenize
before and after. Every decision is saved at once (under the runs folder), so nothing is lost on a reload."""

import streamlit as st

from adapt_core.candidates import find_candidates
from adapt_core.mining import MiningConfig
from adapt_core.perplexity import PerplexityConfig
from adapt_core.plots.tokens import pplu_filter_note, pplu_histogram
from adapt_core.token_policy import TokenPolicy
from adapt_core.tokens import preview, tokenization_stats
from adapt_core.vetting import CandidateFilter, merge_decisions
from studio import resources, state, vetting
from studio.widgets import config_form, guard, progress_bar, tokens

st.title("Tokens")
st.caption(
    "Step 2 · task-specific vocabulary: closed frequent n-grams on word boundaries, scored by PPLu "
    "(lower = a more cohesive unit), vetted by you."
)
choice = state.current()
with guard("Loading the dataset"):
    task = resources.task(choice.dataset, choice.data)
    tokenizer = resources.tokenizer(choice.model)
path, vetted = vetting.load(choice.dataset, choice.model)

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
        vetting.save(path, merge_decisions(vetted, found))
        st.rerun()
if not len(vetted):
    st.info("No candidates yet for this dataset and model: mine them above.", icon=":material/info:")
    st.stop()

counts = vetted.counts()
cols = st.columns(4)
cols[0].metric("Candidates", len(vetted))
for col, decision in zip(cols[1:], ("accepted", "pending", "rejected"), strict=True):
    col.metric(decision.capitalize(), counts[decision])

st.subheader("Vet")
where = config_form(CandidateFilter, "filter", columns=7) or CandidateFilter()
shown = vetted.where(where)
st.caption(pplu_filter_note(vetted.to_frame(), where.max_pplu))
bulk = st.columns([1, 1, 1, 2])
for col, (label, decision) in zip(
    bulk, (("Accept", "accepted"), ("Reject", "rejected"), ("Reset", "pending")), strict=False
):
    if col.button(
        f"{label} the {len(shown)} shown",
        disabled=not shown,
        key=f"bulk_{decision}",
        help=f"Mark every candidate that the filter shows as {decision}.",
        width="stretch",
    ):
        vetting.decide(path, vetted, shown, decision)
        st.rerun()
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
            decided = vetting.accept_by_policy(path, vetted, task, tokenizer, policy)
        st.toast(f"Policy: {decided['accepted']} accepted, {decided['rejected']} rejected (reasons in the table)")
        st.rerun()
with bulk[3]:
    sort_by = st.selectbox("Sort by", ["support", "pplu", "purity", "mutual_info", "text"], key="sort_by")
    descending = st.toggle("Descending", value=sort_by != "pplu", key=f"desc_{sort_by}")
vetting.editor(vetted, shown, path, sort_by, descending)
cutoff = where.max_pplu if where.max_pplu is not None else (pplu.threshold if pplu else None)
cap = pplu.resolve_max_new_tokens(tokenizer.vocab_size) if pplu else None  # as mining caps the new tokens
st.plotly_chart(pplu_histogram(vetted.to_frame(), cutoff, cap=cap), key="pplu_hist")

st.subheader("Before and after")
accepted = vetted.accepted()
after = resources.augmented_tokenizer(choice.model, tuple(accepted))
stats = tokenization_stats(task["dev"].texts[:500], tokenizer, after)
cols = st.columns(3)
cols[0].metric(
    "Tokens per dev text", f"{stats.mean_tokens_after:.1f}", f"{-100 * stats.reduction:.1f} %", delta_color="inverse"
)
cols[1].metric("Dev texts touched", f"{100 * stats.share_touched:.0f} %")
cols[2].metric("New tokens", len(accepted))
custom = st.text_input("Try a text", placeholder="type a sentence to see how it tokenizes")
examples = [custom] if custom else [t for t in task["dev"].texts if any(a in t.lower() for a in accepted)][:3]
for text in examples or task["dev"].texts[:2]:
    left, right = st.columns(2)
    with left:
        tokens(preview(text, tokenizer), "before")
    with right:
        tokens(preview(text, after), "after")

st.subheader("Export and import")
vetting.export_import(path, vetted)

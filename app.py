"""AdaPT Studio: adapt a small language model to a text-classification task, step by step, in the browser.

`streamlit run app.py`. This file is the entry point and the Home page: it sets up the navigation over
`app_pages/` (not `pages/`: a folder of that name switches Streamlit to its legacy multipage mode, which runs a
page without this file and so without the shared sidebar), draws the shared sidebar (dataset, model, device, β,
top-k %; kept in session state across pages) and, at home, shows the pipeline in a few lines and a summary of the
chosen dataset and model.
"""

import streamlit as st

from adapt_core.models import REGISTRY
from adapt_core.run_reader import list_runs
from adapt_core.workspace import load_vetted_or_empty, vetted_path
from studio import resources, state
from studio.demo_panel import demo_section
from studio.widgets import guard, unreadable_runs

st.set_page_config(page_title="AdaPT Studio", page_icon=":material/tune:", layout="wide")

STEPS = [  # (page file, title, icon, what the step does)
    (
        "app_pages/data_page.py",
        "Data",
        ":material/table_view:",
        "pick a labelled corpus, map its columns, check balance and lengths",
    ),
    (
        "app_pages/tokens_page.py",
        "Tokens",
        ":material/token:",
        "mine frequent word sequences, score them, vet the new tokens",
    ),
    (
        "app_pages/sensitivity_page.py",
        "Sensitivity",
        ":material/grid_on:",
        "score every module; see what a β and top-k % budget buys",
    ),
    (
        "app_pages/train_page.py",
        "Train",
        ":material/model_training:",
        "launch AdaPT and baselines in the background, watch them live",
    ),
    (
        "app_pages/compare_page.py",
        "Compare",
        ":material/leaderboard:",
        "macro-F1 over seeds, training time, memory, parameters",
    ),
    (
        "app_pages/playground_page.py",
        "Playground",
        ":material/keyboard:",
        "type a text into a trained run and see what it predicts",
    ),
    (
        "app_pages/analysis_page.py",
        "Analysis",
        ":material/troubleshoot:",
        "confusions, per-class scores, mistakes, flips",
    ),
    ("app_pages/runs_page.py", "Runs", ":material/folder_managed:", "tag, note, export, delete and restore runs"),
]


def page_url(path: str) -> str:
    """The URL path of a page file: `app_pages/tokens_page.py` → `tokens`."""
    return path.removeprefix("app_pages/").removesuffix("_page.py")


def home() -> None:
    choice = state.current()
    st.title("AdaPT Studio")
    st.caption(
        "Adaptive tokenization + sparse finetuning of small language models for text classification "
        "(AdaPT, arXiv 2508.08635), side by side with LoRA, layer selection, full finetuning and STC."
    )
    st.subheader("The pipeline")
    for number, (path, title, icon, what) in enumerate(STEPS, start=1):
        st.page_link(path, label=f"{number}. {title}: {what}", icon=icon)
    demo_section()  # the whole pipeline in one click, for teaching (studio/demo_panel.py)
    with guard("Loading the dataset"):
        task = resources.task(choice.dataset, choice.data)
        anat = resources.anatomy(choice.model, tuple(task.label_names))
    left, right = st.columns(2)
    with left:
        st.subheader(f"Dataset: {choice.dataset_label}")
        st.metric("Classes", task.num_labels)
        st.dataframe(task.summary()[["split", "examples", "classes", "words_mean", "words_p95"]], hide_index=True)
        for note in task.notes:
            st.caption(note)
    with right:
        st.subheader(f"Model: {choice.model}")
        st.caption(REGISTRY[choice.model].description if choice.model in REGISTRY else choice.model)
        a, b, c = st.columns(3)
        a.metric("Parameters", f"{anat.total_params / 1e6:.1f} M")
        b.metric("Non-embedding", f"{anat.non_embedding_params / 1e6:.1f} M")
        c.metric("Layers", anat.num_layers)
        progress_summary(choice)


def progress_summary(choice: state.Choice) -> None:
    """Where this dataset and model stand: vetted tokens and runs."""
    with guard("Reading the vetted tokens", stop=False):
        counts = load_vetted_or_empty(vetted_path(choice.dataset, choice.model)).counts()
        st.write(
            f"**Tokens**: {counts['accepted']} accepted, {counts['pending']} pending, {counts['rejected']} rejected"
        )
    runs = list_runs()
    states = {s: sum(r.state == s for r in runs) for s in ("running", "queued", "completed")}
    st.write(
        f"**Runs**: {states['running']} running, {states['queued']} queued, {states['completed']} completed "
        f"({len(runs)} in all)"
    )
    unreadable_runs(runs)


pages = [st.Page(home, title="Home", icon=":material/home:", default=True)]
# The URL of a page is its file name without `_page` (/data, /tokens, …): the files say what they are, the URLs stay
# short and stable (bookmarks, the browser tests and benchmarks/headless.py open them).
pages += [st.Page(path, title=title, icon=icon, url_path=page_url(path)) for path, title, icon, _ in STEPS]
navigation = st.navigation(pages)
state.sidebar(budget=navigation.title != "Sensitivity")  # that page draws them beside its heatmap
navigation.run()

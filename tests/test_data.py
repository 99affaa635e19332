"""data.py and readers.py: benchmark loading, user files, splits, and every bad input with its message."""

from __future__ import annotations

import json

import pytest
from conftest import needs_shared_data

from adapt_core.data import BENCHMARKS, DataConfig, load_dataset
from adapt_core.errors import AdaptError


def write_csv(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def balanced_csv(tmp_path, n=40, classes=("a", "b")):
    rows = ["text,label"] + [f"example number {i},{classes[i % len(classes)]}" for i in range(n)]
    return write_csv(tmp_path / "d.csv", "\n".join(rows))


def test_csv_with_guessed_columns_and_made_splits(tmp_path):
    task = load_dataset(balanced_csv(tmp_path), DataConfig(seed=3))
    assert task.label_names == ["a", "b"]
    assert {k: len(v) for k, v in task.splits.items()} == {"train": 32, "dev": 4, "test": 4}
    assert any("dev made from train" in n for n in task.notes)
    for split in task.splits.values():  # stratified: both classes everywhere
        assert set(split.labels) == {0, 1}
    again = load_dataset(balanced_csv(tmp_path), DataConfig(seed=3))
    assert again.splits["dev"].texts == task.splits["dev"].texts  # seeded


def test_splits_from_a_split_column_and_named_columns(tmp_path):
    rows = ["utt,intent,split"] + [f"t{i},{'xy'[i % 2]},{['train', 'validation', 'test'][i % 3]}" for i in range(30)]
    task = load_dataset(write_csv(tmp_path / "s.csv", "\n".join(rows)), DataConfig(text_col="utt", label_col="intent"))
    assert [len(task[s]) for s in ("train", "dev", "test")] == [10, 10, 10]
    assert task.notes == []


@pytest.mark.parametrize("suffix", ["tsv", "jsonl", "parquet"])
def test_other_formats(tmp_path, suffix):
    import pandas as pd

    frame = pd.DataFrame({"sentence": [f"s {i}" for i in range(40)], "category": [i % 2 for i in range(40)]})
    path = tmp_path / f"d.{suffix}"
    {
        "tsv": lambda: frame.to_csv(path, sep="\t", index=False),
        "jsonl": lambda: frame.to_json(path, orient="records", lines=True),
        "parquet": lambda: frame.to_parquet(path),
    }[suffix]()
    task = load_dataset(str(path))
    assert task.label_names == ["0", "1"] and len(task["train"]) == 32


BAD_INPUTS = [
    ("missing.csv", None, "file not found"),
    ("empty.csv", "", "is empty"),
    ("one_class.csv", "text,label\n" + "\n".join(f"t{i},a" for i in range(10)), "single class"),
    ("no_label.csv", "text,label\nhello,a\nworld,\nagain,b\nmore,a\nyet,b", "have no label"),
    ("empty_text.csv", "text,label\nhello,a\n ,b\nagain,b\nmore,a", "empty text"),
    ("ambiguous.csv", "text,sentence,label\na,b,c\nd,e,f", "several columns could be the text"),
    ("unknown.csv", "foo,bar,baz\n1,2,3", "cannot tell which column is the text"),
    ("rare.csv", "text,label\n" + "\n".join(f"t{i},a" for i in range(10)) + "\nlonely,b", "single example"),
    ("bad_split.csv", "text,label,split\na,x,train\nb,y,holdout", "use train, dev"),
]


@pytest.mark.parametrize("name,content,message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_says_what_to_fix(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(AdaptError, match=message):
        load_dataset(str(path))


def test_undecodable_bytes(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncaf\xe9 au lait,a\nthé,b\n".encode("latin-1"))
    with pytest.raises(AdaptError, match="not UTF-8"):
        load_dataset(str(path))


def test_named_column_missing(tmp_path):
    with pytest.raises(AdaptError, match="no column named 'body'"):
        load_dataset(balanced_csv(tmp_path), DataConfig(text_col="body"))


def test_label_in_test_that_train_lacks(tmp_path):
    folder = tmp_path / "task"
    folder.mkdir()
    (folder / "train.csv").write_text("text,label\n" + "\n".join(f"t{i},{'ab'[i % 2]}" for i in range(10)))
    (folder / "test.csv").write_text("text,label\nu,a\nv,c\n")
    with pytest.raises(AdaptError, match=r"test has label\(s\) \['c'\] that train lacks"):
        load_dataset(str(folder))


def test_a_folder_split_may_be_named_by_an_alias_and_other_files_are_named_in_a_note(tmp_path):
    folder = tmp_path / "task"
    folder.mkdir()
    rows = "\n".join(f"t{i},{'ab'[i % 2]}" for i in range(20))
    (folder / "train.csv").write_text("text,label\n" + rows)
    (folder / "Validation.csv").write_text("text,label\nv1,a\nv2,b\nv3,a\n")
    (folder / "test.csv").write_text("text,label\nu1,a\nu2,b\n")
    (folder / "labels.txt").write_text("a\nb\n")
    task = load_dataset(str(folder))
    assert task["dev"].texts == ["v1", "v2", "v3"] and len(task["train"]) == 20  # not cut from train
    assert task.notes == ["not read (not a split's name): labels.txt"]
    (folder / "dev.jsonl").write_text('{"text": "w", "label": "a"}\n')
    with pytest.raises(AdaptError, match=r"has 2 dev files \(Validation.csv, dev.jsonl\): keep one"):
        load_dataset(str(folder))


def test_a_held_out_set_is_read_as_given_in_the_model_s_label_order(tmp_path):
    from adapt_core.data import load_held_out

    path = tmp_path / "held.csv"
    path.write_text("text,label,split\nx,b,test\ny,b,Validation\n")  # one class, no train rows: fine here
    name, splits = load_held_out(str(path), ["a", "b"])
    assert name == "held" and splits["test"].labels == [1] and splits["dev"].texts == ["y"]
    folder = tmp_path / "task"
    folder.mkdir()
    (folder / "test.csv").write_text("text,label\nu,a\nv,c\n")
    with pytest.raises(AdaptError, match=r"has labels the model never learned \(c\): drop those rows"):
        load_held_out(str(folder), ["a", "b"])
    path.write_text("text,label,split\nx,b,holdout\n")
    with pytest.raises(AdaptError, match="column 'split' has values \\['holdout'\\]"):
        load_held_out(str(path), ["a", "b"])


def test_config_validation():
    with pytest.raises(AdaptError, match="dev_fraction"):
        DataConfig(dev_fraction=0.7)
    with pytest.raises(AdaptError, match="max_train"):
        DataConfig(max_train=0)


def test_unknown_benchmark_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("ADAPT_DATA_DIR", str(tmp_path))
    with pytest.raises(AdaptError, match="ADAPT_DATA_DIR"):
        load_dataset("scierc")


@needs_shared_data
@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmarks_load(name):
    task = load_dataset(name)
    sizes = {k: len(v) for k, v in task.splits.items()}
    expected = {
        "banking77": (9003, 1000, 3080, 77),
        "scierc": (3219, 455, 974, 7),
        "chemprot": (4169, 2427, 3469, 13),
        "acl_arc": (1688, 114, 139, 6),
        "scicite": (7320, 916, 1861, 3),
    }[name]
    assert (sizes["train"], sizes["dev"], sizes["test"], task.num_labels) == expected


@needs_shared_data
def test_banking_label_order_and_slice():
    from adapt_core.data import data_dir

    task = load_dataset("banking77", DataConfig(max_train=200, max_eval=50))
    assert task.label_names == json.loads((data_dir() / "banking77" / "categories.json").read_text())
    assert (len(task["train"]), len(task["dev"]), len(task["test"])) == (200, 50, 50)
    summary = task.summary()
    assert list(summary["split"]) == ["train", "dev", "test"]
    assert task.class_counts().shape == (77, 3)


@needs_shared_data
def test_chemprot_class_absent_from_dev_is_fine():
    task = load_dataset("chemprot")
    counts = task.class_counts()
    assert counts.loc["AGONIST-INHIBITOR", "train"] > 0 and counts.loc["AGONIST-INHIBITOR", "dev"] == 0


def test_slice_one_short_of_the_whole_split(tmp_path):
    task = load_dataset(balanced_csv(tmp_path, n=40), DataConfig(max_train=31))  # train has 32: cut of one
    assert len(task["train"]) == 31

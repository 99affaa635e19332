"""The marks tokenizers put on their pieces to say where words start or continue: the one copy of these lists.

Three families are recognised: WordPiece marks a piece that *continues* the previous word ("##ing"); byte-level BPE
("Ġ") and SentencePiece ("▁") mark a piece that *starts* a word. Mining (word-boundary filter), vocabulary
augmentation (does an added token absorb the space before it) and PPLu scoring (does a candidate get a leading
space) all read the marks from here, so a new family is added in one place.
"""

from __future__ import annotations

WORDPIECE_CONTINUATION = "##"
BPE_WORD_START = "Ġ"  # byte-level BPE (GPT-2, Llama 3, SmolLM2): the piece begins with a space
SENTENCEPIECE_WORD_START = "▁"  # SentencePiece (T5, Gemma, Llama 2)
WORD_START_MARKS = (BPE_WORD_START, SENTENCEPIECE_WORD_START)
WORD_MARKS = (WORDPIECE_CONTINUATION, *WORD_START_MARKS)


def marks_word_start(piece: str) -> bool:
    """True when `piece` carries a word-start mark (BPE or SentencePiece)."""
    return piece.startswith(WORD_START_MARKS)


def tokenizer_marks_word_starts(tokenizer) -> bool:
    """True for tokenizers whose pieces carry a word-start mark (byte-level BPE "Ġ", SentencePiece "▁"), read from
    how they split a short text: WordPiece tokenizers mark continuations instead and give False."""
    ids = tokenizer(" hello world", add_special_tokens=False)["input_ids"]
    return any(marks_word_start(p) for p in tokenizer.convert_ids_to_tokens(ids))

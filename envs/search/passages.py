"""Split documents into passages, the unit bm25s indexes: about `passage_chars` long, ending at line breaks."""

from __future__ import annotations

from agentgym.envs.search.documents import Document


def split_passages(documents: list[Document], passage_chars: int) -> list[tuple[int, int, int]]:
    """(document number, start, end) character spans covering every document, in order.

    A passage grows line by line until it reaches `passage_chars`; a single line longer than that is cut into
    pieces of `passage_chars`. An empty document still gets one empty passage, so its title stays searchable.

    Example: with passage_chars=10, the text ``"aaaa\\nbbbb\\ncccc\\n"`` gives spans (0, 10) and (10, 15).
    """
    spans: list[tuple[int, int, int]] = []
    for number, doc in enumerate(documents):
        text = doc.text
        if not text:
            spans.append((number, 0, 0))
            continue
        start = 0
        pos = 0
        while pos < len(text):
            newline = text.find("\n", pos)
            line_end = len(text) if newline < 0 else newline + 1
            if line_end - start > passage_chars and pos > start:
                spans.append((number, start, pos))  # close the passage before this line
                start = pos
            while line_end - start > passage_chars:  # one line longer than a passage
                spans.append((number, start, start + passage_chars))
                start += passage_chars
            pos = line_end
        if start < len(text):
            spans.append((number, start, len(text)))
    return spans

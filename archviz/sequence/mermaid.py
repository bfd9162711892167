"""A diagram as Mermaid `sequenceDiagram` text, cut to Mermaid's default 50,000-character limit."""

from __future__ import annotations

from archviz.sequence.model import NOTE, REPLY, Diagram, Message

MERMAID_LIMIT = 50_000
# Characters that would end a statement, start an entity or a comment, or read as markup.
_ENTITIES = str.maketrans({"#": "#35;", ";": "#59;", "<": "#60;", ">": "#62;", "%": "#37;", "\n": " ", "\r": " "})
_CUT = ("Note over {first}: archviz cut this export at {shown} of {total} arrows "
        "(Mermaid's 50,000-character limit), narrow the time range")


def escape(text: str) -> str:
    return text.translate(_ENTITIES).strip() or " "


def to_mermaid(diagram: Diagram, limit: int = MERMAID_LIMIT) -> str:
    if not diagram.messages:
        return "sequenceDiagram\n    participant archviz\n    Note over archviz: nothing happened in this range\n"
    ids = {participant.id: f"p{index}" for index, participant in enumerate(diagram.participants, start=1)}
    lines = ["sequenceDiagram"]
    lines += [f"    participant {ids[p.id]} as {escape(p.label)}" for p in diagram.participants]
    writer = _Writer(diagram, ids, lines)
    total = len(diagram.messages)
    for shown, message in enumerate(diagram.messages):
        chunk = writer.lines_for(message)
        # Leave room for the closing `end`s and the note that says the export was cut.
        if writer.length + sum(len(line) + 1 for line in chunk) + 400 > limit:
            writer.close_all()
            lines.append("    " + _CUT.format(first=ids[diagram.participants[0].id], shown=shown, total=total))
            break
        writer.commit(message, chunk)
    else:
        writer.close_all()
    return "\n".join(lines) + "\n"


class _Writer:
    """Opens and closes `rect` (one client command) and `alt` (a pull the command needed) around arrows."""

    def __init__(self, diagram: Diagram, ids: dict[str, str], lines: list[str]) -> None:
        self.diagram, self.ids, self.lines = diagram, ids, lines
        self.interaction: str | None = None
        self.block: str | None = None
        self.length = sum(len(line) + 1 for line in lines)

    def lines_for(self, message: Message) -> list[str]:
        out: list[str] = []
        sender, receiver = self.ids[message.sender], self.ids[message.receiver]
        if message.interaction != self.interaction:
            out += self._close_block() + self._close_interaction()
            if message.interaction is not None:
                title = self.diagram.interactions[message.interaction].title
                out += ["    rect rgba(120, 130, 150, 0.12)", f"    Note over {sender},{receiver}: {escape(title)}"]
        if message.block != self.block and self.block is not None and message.interaction == self.interaction:
            out += self._close_block()
        label = self._alt_label(message)
        if label and message.block != self.block:
            out.append(f"    alt {escape(label)}")
        if message.kind == NOTE:
            out.append(f"    Note over {sender}: {escape(message.label)}")
        else:
            arrow = "-->>" if message.kind == REPLY else "->>"
            out.append(f"    {sender}{arrow}{receiver}: {escape(message.label)}")
        return out

    def commit(self, message: Message, chunk: list[str]) -> None:
        self.lines += chunk
        self.length += sum(len(line) + 1 for line in chunk)
        self.interaction = message.interaction
        self.block = message.block if self._alt_label(message) else None

    def close_all(self) -> None:
        self.lines += self._close_block() + self._close_interaction()
        self.block = self.interaction = None

    def _alt_label(self, message: Message) -> str | None:
        if message.interaction is None or message.block is None:
            return None
        return self.diagram.interactions[message.interaction].blocks.get(message.block)

    def _close_block(self) -> list[str]:
        return ["    end"] if self.block is not None else []

    def _close_interaction(self) -> list[str]:
        return ["    end"] if self.interaction is not None else []

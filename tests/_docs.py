"""docs/protocols.md as the packs' tests read it: the code blocks of one pack's section, as
written (each pack's test runs its documented example)."""
import pathlib

PROTOCOLS_MD = pathlib.Path(__file__).resolve().parents[1] / "docs" / "protocols.md"


def section_blocks(heading, language):
    """The code blocks fenced as ``language`` (``""``: no language) in the section
    ``## heading``, up to the next ``## ``, in order."""
    lines = PROTOCOLS_MD.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"## {heading}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    blocks, current, fence = [], None, None
    for line in lines[start + 1:end]:
        if current is None and line.startswith("```"):
            fence, current = line[3:].strip(), []
        elif current is not None and line == "```":
            if fence == language:
                blocks.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return blocks

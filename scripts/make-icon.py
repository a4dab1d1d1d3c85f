"""Draw HomeIQ's brand icon: a house outline holding a small three-node graph.

Run once when the design changes: `.venv/bin/python scripts/make-icon.py`.
Writes custom_components/homeiq/brand/icon.png (256 px) and icon@2x.png (512 px).
"""

from pathlib import Path

from PIL import Image, ImageDraw

BRAND = Path(__file__).resolve().parents[1] / "custom_components/homeiq/brand"
BLUE = (3, 169, 244, 255)  # Home Assistant's primary blue
DARK = (16, 60, 110, 255)


def draw(size: int) -> Image.Image:
    """Return the icon drawn at `size` pixels, supersampled for smooth edges."""
    big = size * 4
    s = big / 256
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    roof = [(128 * s, 14 * s), (246 * s, 116 * s), (10 * s, 116 * s)]
    pen.polygon(roof, fill=BLUE)
    pen.rounded_rectangle((38 * s, 100 * s, 218 * s, 242 * s), 18 * s, fill=BLUE)
    nodes = [(88 * s, 196 * s), (128 * s, 132 * s), (170 * s, 190 * s)]
    for a, b in zip(nodes, [*nodes[1:], nodes[0]], strict=True):
        pen.line([a, b], fill="white", width=int(10 * s))
    for x, y in nodes:
        r = 20 * s
        pen.ellipse(
            (x - r, y - r, x + r, y + r), fill="white", outline=DARK, width=int(6 * s)
        )
    return image.resize((size, size), Image.Resampling.LANCZOS)


if __name__ == "__main__":
    BRAND.mkdir(parents=True, exist_ok=True)
    draw(256).save(BRAND / "icon.png", optimize=True)
    draw(512).save(BRAND / "icon@2x.png", optimize=True)

"""The figure of the Algorithm 1 page: one epoch of Unlocker, step by step."""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

STEPS = [
    ("1. score pass", "raw logits z of every\ntraining sample, no grad"),
    ("2. outer step + EMA",
     "tau on D_bc (previous epoch);\nalpha <- beta tau log pi + (1-beta) alpha"),
    ("3. selection", "strategy on z - alpha:\nclean mask, corrected labels"),
    ("4. D_bc", "top 15% of each class\namong the clean samples"),
    ("5. prior", "pi re-estimated from\nthe cleaned labels"),
    ("6. train one epoch", "clean: CE(z + alpha, y)\nothers: their corrected targets"),
]

fig, ax = plt.subplots(figsize=(10, 4.2))
ax.set_xlim(0, 3)
ax.set_ylim(0, 2)
ax.axis("off")
positions = [(0.5, 1.5), (1.5, 1.5), (2.5, 1.5), (2.5, 0.5), (1.5, 0.5), (0.5, 0.5)]
for (title, body), (x, y) in zip(STEPS, positions, strict=True):
    ax.add_patch(FancyBboxPatch((x - 0.44, y - 0.3), 0.88, 0.6, boxstyle="round,pad=0.02",
                                facecolor="#e8f0fb" if title[0] != "2" else "#fdebd3",
                                edgecolor="#34495e"))
    ax.text(x, y + 0.15, title, ha="center", va="center", fontsize=11, weight="bold")
    ax.text(x, y - 0.08, body, ha="center", va="center", fontsize=8.5)
for start, end in zip(positions, positions[1:] + positions[:1], strict=True):
    (x0, y0), (x1, y1) = start, end
    if y0 == y1:
        shift = 0.45 if x1 > x0 else -0.45
        begin, finish = (x0 + shift, y0), (x1 - shift, y1)
    else:
        shift = 0.31 if y1 > y0 else -0.31
        begin, finish = (x0, y0 + shift), (x1, y1 - shift)
    ax.add_patch(FancyArrowPatch(begin, finish, arrowstyle="-|>", mutation_scale=14,
                                 color="#34495e"))
ax.text(1.5, 1.0, "each epoch after the warm-up\n(warm-up: every given label, step 6 only)",
        ha="center", va="center", fontsize=9, style="italic", color="#555555")
fig.tight_layout()

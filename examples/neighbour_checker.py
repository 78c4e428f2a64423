"""An example scripted debater: looks for look-alike statements that rarely hold together.

Statements that read alike usually rise and fall together; a pair of look-alikes whose
joint probability is far below the product of their own probabilities is a hidden
negation ("flip"), which pulls P(Z) down. This debater keeps state between turns.
"""


def _words(text):
    return set(text.lower().replace(",", " ").replace(".", " ").split())


class NeighbourChecker:
    def __init__(self):
        self.cited = set()

    def argue(self, view, oracle):
        stmts = view["statements"]
        best = []
        for i, a in enumerate(stmts[:120]):
            wa = _words(a["text"])
            for b in stmts[i + 1 : 120]:
                wb = _words(b["text"])
                if len(wa & wb) / max(1, len(wa | wb)) < 0.6:
                    continue
                key = (a["id"], b["id"])
                if key in self.cited:
                    continue
                p = oracle.prob(list(key))
                expect = (a["p"] or 0.5) * (b["p"] or 0.5)
                best.append((p / expect if expect else 1.0, key, p))
        best.sort()
        picks = best[:3]
        for _, key, _ in picks:
            self.cited.add(key)
        if not picks:
            return {"text": f"I hold that P(Z) is about {view['claim']:.3g}.", "citations": []}
        lines = [f"P(Z) is about {view['claim']:.3g}. Look-alikes that do not hold together:"]
        cites = []
        for ratio, (x, y), p in picks:
            lines.append(f"{x} and {y}: P(both) = {p:.3g}, {ratio:.2g} times the product.")
            cites.append({"kind": "prob", "ids": [x, y], "claimed": round(p, 6)})
        return {"text": " ".join(lines), "citations": cites}

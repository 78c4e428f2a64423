"""An example scripted debater: argues for the product of the statements' own probabilities.

Run it with:  pzjudge debate WORLD.json --a script:examples/product_debater.py:ProductDebater ...

A scripted debater is a class with one method, `argue(view, oracle)`. `view` is a dict
(side, claim, opponent_claim, phase, round, statements [{id, text, p}], transcript, rules);
`oracle.prob(ids)` returns the joint probability of up to `rules["debater_order"]`
statements. Return {"text": ..., "citations": [...]}.
"""

import math


class ProductDebater:
    def argue(self, view, oracle):
        stmts = view["statements"]
        # Cite the two least likely statements and the pair they form.
        low = sorted(stmts, key=lambda s: s["p"] if s["p"] is not None else 0.5)[:2]
        ids = [s["id"] for s in low]
        pair = oracle.prob(ids)
        product = math.prod(s["p"] for s in stmts if s["p"] is not None)
        text = (
            f"My claim is {view['claim']:.3g}. The product of the single probabilities is "
            f"{product:.3g}. Even the two weakest statements, {ids[0]} and {ids[1]}, hold "
            f"together with probability {pair:.3g}."
        )
        return {
            "text": text,
            "citations": [
                {"kind": "statement", "id": ids[0]},
                {"kind": "prob", "ids": ids, "claimed": round(pair, 6)},
            ],
        }

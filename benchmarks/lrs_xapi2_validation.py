"""Cost of validating a statement by the xAPI 2.0 rules against the 1.0.3 rules (in process).

The 2.0 validator wraps the 1.0.3 one (``xapi/lrs/xapi2.py``), so its extra cost per statement is
what this measures: typical Steun statements (a Likert answer with context), and the same with
2.0 Context Agents and Groups.

    python benchmarks/lrs_xapi2_validation.py            # 20,000 statements per case
    python benchmarks/lrs_xapi2_validation.py --count 100000

Figures are CPU time of this process (``time.process_time``), so they hold on a busy machine.
"""

from __future__ import annotations

import argparse
import copy
import time
import uuid
from collections.abc import Callable
from typing import Any

from xapi.lrs.validation import validate_statement
from xapi.lrs.xapi2 import validate_statement_2


def likert_answer() -> dict[str, Any]:
    base = "https://steun.example.nl/xapi"
    return {
        "id": str(uuid.uuid4()),
        "actor": {"account": {"homePage": "https://steun.example.nl", "name": uuid.uuid4().hex}},
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/answered",
            "display": {"nl-NL": "beantwoordde"},
        },
        "object": {
            "id": f"{base}/instrument/demo-relatie/v1/item/q07",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                "interactionType": "likert",
                "name": {"nl-NL": "Vraag 7"},
                "scale": [{"id": str(i), "description": {"nl-NL": f"{i}"}} for i in range(1, 6)],
            },
        },
        "result": {"response": "4", "duration": "PT12.5S"},
        "context": {
            "registration": str(uuid.uuid4()),
            "language": "nl-NL",
            "contextActivities": {
                "parent": [{"id": f"{base}/instrument/demo-relatie/v1"}],
                "grouping": [{"id": f"{base}/study/steun/wave/t1"}, {"id": f"{base}/study/steun"}],
                "category": [{"id": f"{base}/profile"}],
            },
            "extensions": {f"{base}/ext/child-code": "B"},
        },
        "timestamp": "2027-03-16T10:12:00+01:00",
    }


def with_context_agents(statement: dict[str, Any]) -> dict[str, Any]:
    statement = copy.deepcopy(statement)
    statement["context"]["contextAgents"] = [
        {
            "objectType": "contextAgent",
            "agent": {"account": {"homePage": "https://steun.example.nl", "name": "teacher"}},
            "relevantTypes": ["https://steun.example.nl/xapi/role/teacher"],
        }
    ]
    statement["context"]["contextGroups"] = [
        {
            "objectType": "contextGroup",
            "group": {
                "objectType": "Group",
                "account": {"homePage": "https://steun.example.nl", "name": "school-7"},
            },
        }
    ]
    return statement


def measure(validate: Callable[[dict[str, Any]], Any], statements: list[dict[str, Any]]) -> float:
    """CPU microseconds per statement (inputs are deep-copied beforehand, outside the timing)."""
    batch = copy.deepcopy(statements)
    start = time.process_time()
    for statement in batch:
        validate(statement)
    return (time.process_time() - start) / len(batch) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    plain = [likert_answer() for _ in range(args.count)]
    agents = [with_context_agents(s) for s in plain]
    v1 = measure(lambda s: validate_statement(s, copy=False), plain)
    v2 = measure(lambda s: validate_statement_2(s, copy=False), plain)
    v2_agents = measure(lambda s: validate_statement_2(s, copy=False), agents)
    print(f"statements per case: {args.count:,}")
    print(f"1.0.3 rules, Likert answer:                 {v1:7.1f} CPU-us/statement")
    print(f"2.0 rules,   Likert answer:                 {v2:7.1f} CPU-us/statement")
    print(f"2.0 rules,   with contextAgents/Groups:     {v2_agents:7.1f} CPU-us/statement")
    print(f"2.0 overhead on the Likert answer:          {v2 - v1:7.1f} CPU-us ({v2 / v1 - 1:+.0%})")


if __name__ == "__main__":
    main()

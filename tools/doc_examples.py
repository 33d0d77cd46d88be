#!/usr/bin/env python3
"""Counts the public items of evloop whose docs carry a code example.

Usage (needs a nightly toolchain for rustdoc's JSON output):

    cargo +nightly rustdoc --lib --all-features -- -Z unstable-options --output-format json
    python3 tools/doc_examples.py target/doc/evloop.json [--missing]

An item is public if it is reachable from the crate root: modules, types, traits, functions,
constants, macros, and the methods of inherent impls of public types and of public traits.
Trait impls (documented by their trait) and fields and variants are not counted. An item "has an
example" if its doc comment contains a fenced code block.
"""
import json
import sys

KINDS = {"module", "struct", "enum", "union", "trait", "function", "constant", "static",
         "type_alias", "macro"}


def main():
    doc = json.load(open(sys.argv[1]))
    index = doc["index"]
    seen, items = set(), []

    def kind(item):
        return next(iter(item["inner"]))

    def add(item_id, path):
        if item_id in seen or str(item_id) not in index:
            return
        seen.add(item_id)
        item = index[str(item_id)]
        k = kind(item)
        if k == "use":
            target = item["inner"]["use"]["id"]
            if target is not None and item["visibility"] == "public":
                add(target, path)
            return
        if k not in KINDS:
            return
        name = path + [item["name"]] if item["name"] else path
        items.append(("::".join(name), k, item))
        inner = item["inner"][k]
        if k == "module":
            for child in inner["items"]:
                child_item = index.get(str(child))
                if child_item and child_item["visibility"] == "public":
                    add(child, name)
        elif k in ("struct", "enum", "union"):
            for impl_id in inner["impls"]:
                impl = index[str(impl_id)]["inner"]["impl"]
                if impl["trait"] is not None or impl.get("is_synthetic") or impl.get("blanket_impl"):
                    continue
                for m in impl["items"]:
                    mi = index[str(m)]
                    if mi["visibility"] == "public":
                        items.append(("::".join(name + [mi["name"]]), kind(mi), mi))
        elif k == "trait":
            for m in inner["items"]:
                mi = index[str(m)]
                items.append(("::".join(name + [mi["name"]]), kind(mi), mi))

    add(doc["root"], [])
    with_example = [i for i in items if "```" in (i[2].get("docs") or "")]
    print(f"{len(with_example)} of {len(items)} public items have an example")
    if "--missing" in sys.argv:
        for path, k, item in sorted(items, key=lambda i: i[0]):
            if "```" not in (item.get("docs") or ""):
                print(f"  {k:10} {path}")


main()

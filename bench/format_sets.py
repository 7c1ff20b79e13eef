"""Small seeded DeepMatcher-format sets with the column formats of the benchmark sets we do not have.

``similarity=auto`` is judged on DeepMatcher sets that are not in the repository. Their columns
have formats our four development sets lack (as far as is known from the public releases):
durations ("3:45"), dates in several spellings ("21-oct-13", "october 21 , 2013", "2013"),
prices with a space or a word among the numbers ("$ 1.29", "album only"), lists ("dance , music ,
electronic"), copyright lines, model numbers, years missing on one side, long descriptions.
This writes sets with such columns, one entity per match, to look at what the column profiles
make of them and to run the recipe on them. Nothing here copies a real set; the values are made up.

Kinds (``--kinds``):

- ``songs``: a song store against another (Song_Name, Artist_Name, Album_Name, Genre, Price,
  CopyRight, Time, Released). Most non-matches are other songs of the *same album*, so the
  album, artist, genre, copyright and release date agree and only the name and the duration
  tell; a fifth of the songs have a later version (a reissue) that agrees on everything but
  the release date and the duration.
- ``products``: title, category, brand, modelno, price ("$399.00" on one side, "399.0" or missing
  on the other), description (long, one side often missing).
- ``citations``: title, authors, venue, year (missing on the right side three times in four).

Each set has about a quarter matches among its labelled pairs, split 3:1:1 into train / valid /
test (the DeepMatcher layout: tableA/B.csv with an ``id``, pair files ``ltable_id,rtable_id,label``).

    python bench/format_sets.py --out /tmp/formats [--kinds songs,products,citations] [--entities 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

_SYLLABLES = ["ka", "lo", "mi", "ren", "tor", "va", "shi", "del", "ban", "gor", "ne", "pa", "qui", "sol", "tra",
              "vin", "zel", "mor", "lin", "dra"]
_GENRES = ["dance", "electronic", "pop", "rock", "alternative", "hip-hop/rap", "country", "r&b/soul", "jazz",
           "house", "indie rock", "singer/songwriter"]
_LABELS = ["records", "music group", "entertainment", "recordings", "music"]
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]
_CATEGORIES = ["laptops", "cameras", "printers", "monitors", "headphones", "tablets", "routers", "speakers"]
_VENUES = [("sigmod conference", "proceedings of the acm sigmod international conference on management of data"),
           ("vldb", "very large data bases"), ("icde", "data engineering , international conference on"),
           ("sigmod record", "acm sigmod record"), ("vldb j.", "the vldb journal")]


def _word(rng: np.random.Generator) -> str:
    return "".join(rng.choice(_SYLLABLES, size=rng.integers(2, 4)))


def _words(rng: np.random.Generator, low: int, high: int) -> str:
    return " ".join(_word(rng) for _ in range(rng.integers(low, high + 1)))


def _typo(text: str, rng: np.random.Generator, p: float) -> str:
    """With probability ``p`` drop one character (the kind of noise two stores' copies differ by)."""
    if len(text) < 4 or rng.random() >= p:
        return text
    i = int(rng.integers(1, len(text) - 1))
    return text[:i] + text[i + 1:]


# ----------------------------------------------------------------------------- songs


def _songs(rng: np.random.Generator, entities: int):
    albums = []
    for _ in range(max(1, entities // 4)):
        day = dt.date(1995, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 25)))
        albums.append({"album": _words(rng, 1, 3), "artist": _words(rng, 1, 2),
                       "genres": list(rng.choice(_GENRES, size=rng.integers(1, 3), replace=False)),
                       "label": f"{_word(rng)} {rng.choice(_LABELS)}", "released": day, "year": day.year})
    songs = []
    for album in albums:
        for _ in range(4):
            songs.append({**album, "song": _words(rng, 1, 4), "seconds": int(rng.integers(120, 420)),
                          "price": rng.choice(["0.99", "1.29"])})
    # A fifth of the songs also come out again later (a remaster on a reissue of the album): same
    # name, artist, album and copyright line, another release date and a slightly different
    # duration. Those versions are each other's hardest non-matches: only the dates and the
    # durations tell them apart.
    versions: dict[int, int] = {}
    for i in np.flatnonzero(rng.random(len(songs)) < 0.2):
        song = songs[i]
        versions[int(i)], versions[len(songs)] = len(songs), int(i)
        songs.append({**song, "released": song["released"] + dt.timedelta(days=int(rng.integers(60, 3000))),
                      "seconds": song["seconds"] + int(rng.choice([-1, 1])) * int(rng.integers(3, 40))})

    def left(song):  # the store that spells dates "21-oct-13" and lists every genre
        album_only = rng.random() < 0.15
        return {"Song_Name": song["song"], "Artist_Name": song["artist"], "Album_Name": song["album"],
                "Genre": " , ".join([*song["genres"], "music"]),
                "Price": "album only" if album_only else f"$ {song['price']}",
                "CopyRight": f"{song['year']} {song['label']}",
                "Time": f"{song['seconds'] // 60}:{song['seconds'] % 60:02d}",
                "Released": song["released"].strftime("%d-%b-%y").lower()}

    def right(song):  # the store that spells dates "october 21 , 2013" and keeps one genre
        seconds = song["seconds"] + int(rng.choice([0, 0, 0, 1, -1]))
        released = (f"{song['released'].year}" if rng.random() < 0.1 else
                    f"{_MONTHS[song['released'].month - 1]} {song['released'].day} , {song['released'].year}")
        extra = " [explicit]" if rng.random() < 0.2 else ""
        return {"Song_Name": _typo(song["song"], rng, 0.2) + extra, "Artist_Name": song["artist"],
                "Album_Name": _typo(song["album"], rng, 0.1) + extra, "Genre": song["genres"][0],
                "Price": f"$ {song['price']}",
                "CopyRight": f"( c ) {song['year']} {song['label']}",
                "Time": f"{seconds // 60}:{seconds % 60:02d}", "Released": released}

    # Hard non-matches: the song's other version if it has one, else another song of its album.
    album_size = 4 * len(albums)

    def hard(i: int) -> int:
        if i in versions and rng.random() < 0.5:
            return versions[i]
        i = i if i < album_size else versions[i]
        return i - i % 4 + (i % 4 + int(rng.integers(1, 4))) % 4

    return songs, left, right, hard


# ----------------------------------------------------------------------------- products


def _products(rng: np.random.Generator, entities: int):
    brands = [_word(rng) for _ in range(max(2, entities // 10))]
    items = []
    for _ in range(entities):
        brand = str(rng.choice(brands))
        model = f"{_word(rng)[:2].upper()}{rng.integers(100, 9999)}{rng.choice(['LL/A', '-B', 'X', ''])}"
        items.append({"brand": brand, "model": model, "name": _words(rng, 2, 5),
                      "category": str(rng.choice(_CATEGORIES)), "price": float(rng.integers(10, 2000)) - 0.01,
                      "description": _words(rng, 20, 40)})

    def left(item):
        return {"title": f"{item['brand']} {item['name']} {item['model']}", "category": item["category"],
                "brand": item["brand"], "modelno": item["model"], "price": f"${item['price']:,.2f}",
                "description": item["description"]}

    def right(item):
        price = item["price"] * float(rng.choice([1.0, 1.0, 0.95, 1.1]))
        return {"title": f"{item['name']} by {item['brand']}", "category": item["category"],
                "brand": item["brand"], "modelno": item["model"].lower() if rng.random() < 0.7 else None,
                "price": None if rng.random() < 0.4 else f"{price:.1f}",
                "description": None if rng.random() < 0.5 else _typo(item["description"], rng, 0.5)}

    def hard(i: int) -> int:  # another product of the same brand when there is one
        same = [j for j, other in enumerate(items) if other["brand"] == items[i]["brand"] and j != i]
        return int(rng.choice(same)) if same else (i + 1) % len(items)

    return items, left, right, hard


# ----------------------------------------------------------------------------- citations


def _citations(rng: np.random.Generator, entities: int):
    people = [f"{_word(rng)[0]} . {_word(rng)}" for _ in range(max(3, entities // 2))]
    papers = [{"title": _words(rng, 4, 10), "authors": list(rng.choice(people, size=rng.integers(1, 5))),
               "venue": int(rng.integers(0, len(_VENUES))), "year": int(rng.integers(1994, 2004))}
              for _ in range(entities)]

    def left(paper):
        return {"title": paper["title"], "authors": " , ".join(paper["authors"]),
                "venue": _VENUES[paper["venue"]][0], "year": paper["year"]}

    def right(paper):
        return {"title": _typo(paper["title"], rng, 0.3), "authors": " , ".join(a.split()[-1] for a in paper["authors"]),
                "venue": _VENUES[paper["venue"]][1] if rng.random() < 0.6 else None,
                "year": paper["year"] if rng.random() < 0.25 else None}

    def hard(i: int) -> int:  # a paper of the same venue
        same = [j for j, other in enumerate(papers) if other["venue"] == papers[i]["venue"] and j != i]
        return int(rng.choice(same)) if same else (i + 1) % len(papers)

    return papers, left, right, hard


KINDS: dict[str, Callable] = {"songs": _songs, "products": _products, "citations": _citations}


def make_set(kind: str, *, entities: int = 300, seed: int = 0) -> dict[str, pd.DataFrame]:
    """tableA, tableB and the train / valid / test pairs of one generated set (DeepMatcher layout).

    Every entity has a left and a right record (ids shuffled); its labelled pairs are the match,
    two hard non-matches (an entity that shares most attributes) and one random non-match.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {sorted(KINDS)}")
    rng = np.random.default_rng(seed)
    entities_, left, right, hard = KINDS[kind](rng, entities)
    n = len(entities_)
    left_ids, right_ids = rng.permutation(n), rng.permutation(n)
    table_a = pd.DataFrame([left(e) for e in entities_]).assign(id=left_ids)
    table_b = pd.DataFrame([right(e) for e in entities_]).assign(id=right_ids)
    table_a, table_b = (t[["id", *[c for c in t.columns if c != "id"]]].sort_values("id", ignore_index=True)
                        for t in (table_a, table_b))
    rows = []
    for i in range(n):
        others = {hard(i), hard(i), int(rng.integers(0, n))} - {i}
        rows.append((left_ids[i], right_ids[i], 1))
        rows += [(left_ids[i], right_ids[j], 0) for j in sorted(others)]
    pairs = pd.DataFrame(rows, columns=["ltable_id", "rtable_id", "label"]).sample(frac=1.0, random_state=seed)
    # 3:1:1 by pair, as the DeepMatcher releases are split.
    cut = np.cumsum([0, 3 * len(pairs) // 5, len(pairs) // 5])
    splits = {"train": pairs.iloc[cut[0]:cut[1]], "valid": pairs.iloc[cut[1]:cut[2]], "test": pairs.iloc[cut[2]:]}
    return {"tableA": table_a, "tableB": table_b, **{k: v.reset_index(drop=True) for k, v in splits.items()}}


def write_set(kind: str, out: Path, *, entities: int = 300, seed: int = 0) -> Path:
    """Write one generated set as a DeepMatcher directory ``out/<Kind>-synthetic``."""
    target = Path(out) / f"{kind.capitalize()}-synthetic"
    target.mkdir(parents=True, exist_ok=True)
    for name, frame in make_set(kind, entities=entities, seed=seed).items():
        frame.to_csv(target / f"{name}.csv", index=False)
    return target


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--entities", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for kind in args.kinds.split(","):
        if kind not in KINDS:
            parser.error(f"--kinds: expected some of {', '.join(KINDS)}, got {kind!r}")
        print(write_set(kind, args.out, entities=args.entities, seed=args.seed))


if __name__ == "__main__":
    sys.exit(main())

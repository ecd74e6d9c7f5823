"""VotingFusionSearch against the loops a user would otherwise write.

1. All 4095 subsets of 12 members on 3515 development samples: the search
   (``cv='prefit'``) against a loop over ``sklearn.metrics.roc_auc_score`` on
   the same member probabilities, with the scores compared; and the floor,
   the time of the per-subset sorts alone.
2. Scaling with the number of members (8-16), of samples, and with n_jobs.
3. The naive alternative: ``GridSearchCV`` over ``VotingClassifier`` weight
   vectors in {0, 1}^k (it refits every member for every candidate), against
   ``VotingFusionSearch(cv=3)`` on the same small case.

Run: ``python benchmarks/bench_fusion.py`` (``--quick`` for a smoke run).
Timings are the best of ``--repeat`` runs, wall clock and CPU time of this
process (the CPU time is what to compare on a shared machine; with
``n_jobs=2`` only the wall clock can show a gain).
"""

import argparse
import itertools
import math
import platform
import time

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.discriminant_analysis import (
    LinearDiscriminantAnalysis,
    QuadraticDiscriminantAnalysis,
)
from sklearn.ensemble import (
    AdaBoostClassifier,
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    VotingClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.naive_bayes import BernoulliNB, GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeClassifier

from sklearn_rbfm import VotingFusionSearch
from sklearn_rbfm._fast_auc import average_probas, average_scores

N_TRAIN = 3515
N_DEV = 3515


def members():
    """16 different classifiers; trees, k-NN and naive Bayes give many ties."""
    return [
        ("lr_weak", LogisticRegression(C=0.01)),
        ("lr", LogisticRegression(C=1.0)),
        ("gnb", GaussianNB()),
        ("tree3", DecisionTreeClassifier(max_depth=3, random_state=0)),
        ("tree6", DecisionTreeClassifier(max_depth=6, random_state=0)),
        ("knn5", KNeighborsClassifier(5)),
        ("knn25", KNeighborsClassifier(25)),
        ("rf", RandomForestClassifier(30, max_depth=6, random_state=0)),
        ("et", ExtraTreesClassifier(30, max_depth=8, random_state=0)),
        ("lda", LinearDiscriminantAnalysis()),
        ("qda", QuadraticDiscriminantAnalysis(reg_param=0.5)),
        ("mlp", MLPClassifier((16,), max_iter=300, random_state=0)),
        ("hgb", HistGradientBoostingClassifier(max_iter=30, random_state=0)),
        ("ada", AdaBoostClassifier(n_estimators=30, random_state=0)),
        ("bnb", BernoulliNB()),
        ("knn50", KNeighborsClassifier(50)),
    ]


class Timing:
    """Best wall-clock and best process CPU time over repeats.

    On a shared, oversubscribed machine the wall clock measures the load of
    others; the CPU time of this process measures the work done.
    """

    def __init__(self, wall, cpu):
        self.wall, self.cpu = wall, cpu

    def __sub__(self, other):
        return Timing(self.wall - other.wall, self.cpu - other.cpu)

    def __format__(self, spec):
        return f"{self.wall:{spec or '.2f'}} / {self.cpu:{spec or '.2f'}}"


def best_time(func, repeat):
    wall = cpu = math.inf
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = func()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return Timing(wall, cpu), result


def subsets_of(n_members):
    return [
        combo
        for size in range(1, n_members + 1)
        for combo in itertools.combinations(range(n_members), size)
    ]


def roc_auc_loop(y, probas, subsets):
    """The baseline: average, then roc_auc_score, one subset at a time."""
    return np.array(
        [
            roc_auc_score(y, average_probas([probas[i] for i in s])[:, 1])
            for s in subsets
        ]
    )


def sort_floor(y, probas, subsets, chunk=1024):
    """Time of the per-subset sorts alone, on the same int64 keys."""
    n_members = len(probas)
    scores = np.zeros((n_members + 1, len(y)))
    scores[:n_members] = np.stack([p[:, 1] for p in probas])
    padded = np.full((len(subsets), n_members), n_members)
    for row, s in zip(padded, subsets):
        row[: len(s)] = s
    sizes = np.array([len(s) for s in subsets])
    total = Timing(0.0, 0.0)
    for start in range(0, len(subsets), chunk):
        keys = average_scores(
            scores, padded[start : start + chunk], sizes[start : start + chunk]
        ).view(np.int64)
        keys <<= 1
        keys |= y.astype(bool)
        begin, begin_cpu = time.perf_counter(), time.process_time()
        keys.sort(axis=1)
        total.wall += time.perf_counter() - begin
        total.cpu += time.process_time() - begin_cpu
    return total


def search(fitted, X, y, n_jobs=None):
    return VotingFusionSearch(fitted, cv="prefit", n_jobs=n_jobs).fit(X, y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    n_dev_max = 3515 if args.quick else 30000

    print(f"# bench_fusion  {platform.processor() or platform.machine()}, "
          f"{joblib.cpu_count()} cores, numpy {np.__version__}")
    X, y = make_classification(
        n_samples=N_TRAIN + n_dev_max, n_features=20, n_informative=6,
        flip_y=0.1, weights=[0.7], random_state=0,
    )
    X_train, y_train = X[:N_TRAIN], y[:N_TRAIN]
    X_dev_all, y_dev_all = X[N_TRAIN:], y[N_TRAIN:]
    X_dev, y_dev = X_dev_all[:N_DEV], y_dev_all[:N_DEV]
    fitted = [(name, clone(m).fit(X_train, y_train)) for name, m in members()]

    # 1. 4095 subsets of 12 members on 3515 samples
    twelve = fitted[:12]
    probas = [m.predict_proba(X_dev) for _, m in twelve]
    subsets = subsets_of(12)
    t_predict, _ = best_time(lambda: [m.predict_proba(X_dev) for _, m in twelve], repeat)
    t_fit, fast = best_time(lambda: search(twelve, X_dev, y_dev), repeat)
    t_loop, reference = best_time(lambda: roc_auc_loop(y_dev, probas, subsets), 1)
    floors = [sort_floor(y_dev, probas, subsets) for _ in range(repeat)]
    t_sort = Timing(min(f.wall for f in floors), min(f.cpu for f in floors))
    scores = fast.cv_results_["score"]
    order = np.argsort(-scores, kind="stable")
    same_order = bool(np.all(np.diff(reference[order]) <= 1e-12))
    t_search = t_fit - t_predict
    print("\n## 4095 subsets, 12 members, 3515 samples (n_jobs=None); times: wall s / CPU s")
    print(f"roc_auc_score loop            {t_loop}")
    print(f"VotingFusionSearch.fit        {t_fit}  (incl. members' predict_proba {t_predict})"
          f"  speed-up {t_loop.wall / t_fit.wall:5.1f}x wall, {t_loop.cpu / t_fit.cpu:5.1f}x CPU")
    print(f"  search alone                {t_search}  speed-up {t_loop.wall / t_search.wall:5.1f}x"
          f" wall, {t_loop.cpu / t_search.cpu:5.1f}x CPU")
    print(f"  sorts alone (the floor)     {t_sort}  search / floor "
          f"{t_search.wall / t_sort.wall:4.2f} wall, {t_search.cpu / t_sort.cpu:4.2f} CPU")
    print(f"max |score - roc_auc_score|   {np.abs(scores - reference).max():.1e}; "
          f"identical ranking: {same_order}; tied scores: {len(scores) - len(np.unique(scores))}")

    # 2a. members
    print("\n## scaling with members (3515 samples, n_jobs=None)")
    print("| members | subsets | fit wall / CPU [s] | search wall / CPU [s] | loop est. CPU [s] |")
    per_subset_loop = t_loop.cpu / len(subsets)
    for k in (8, 10, 12, 14, 16):
        group = fitted[:k]
        t_pred, _ = best_time(lambda: [m.predict_proba(X_dev) for _, m in group], repeat)
        t, _ = best_time(lambda: search(group, X_dev, y_dev), repeat if k <= 12 else 1)
        n = 2**k - 1
        print(f"| {k} | {n} | {t:.2f} | {t - t_pred:.2f} | {per_subset_loop * n:.0f} |")

    # 2b. samples
    print("\n## scaling with samples (12 members, n_jobs=None)")
    print("| samples | fit wall / CPU [s] | search wall / CPU [s] |")
    for n_dev in (1000, 3515, 10000, 30000):
        if n_dev > n_dev_max:
            continue
        Xs, ys = X_dev_all[:n_dev], y_dev_all[:n_dev]
        t_pred, _ = best_time(lambda: [m.predict_proba(Xs) for _, m in twelve], repeat)
        t, _ = best_time(lambda: search(twelve, Xs, ys), repeat)
        print(f"| {n_dev} | {t:.2f} | {t - t_pred:.2f} |")

    # 2c. n_jobs (the loky pool is started once before timing)
    print("\n## n_jobs (3515 samples)")
    print("| members | n_jobs | fit wall / CPU [s] |")
    search(fitted[:8], X_dev, y_dev, n_jobs=2)
    for k in (12, 16):
        for n_jobs in (1, 2):
            t, _ = best_time(
                lambda: search(fitted[:k], X_dev, y_dev, n_jobs=n_jobs),
                repeat if k <= 12 else 1,
            )
            print(f"| {k} | {n_jobs} | {t:.2f} |")

    # 3. the naive alternative on a small case
    k, n_small = 6, 600
    small = [(n, m) for n, m in members()[:k]]
    Xs, ys = X_train[:n_small], y_train[:n_small]
    grid = [list(w) for w in itertools.product((0, 1), repeat=k) if any(w)]
    naive = GridSearchCV(
        VotingClassifier(small, voting="soft"), {"weights": grid}, cv=3, scoring="roc_auc"
    )
    t_naive, naive = best_time(lambda: naive.fit(Xs, ys), 1)
    t_ours, ours = best_time(lambda: VotingFusionSearch(small, cv=3).fit(Xs, ys), repeat)
    names = [n for n, _ in small]
    naive_best = tuple(n for n, w in zip(names, naive.best_params_["weights"]) if w)
    print(f"\n## naive GridSearchCV over VotingClassifier weights ({k} members, "
          f"{len(grid)} candidates, {n_small} samples, cv=3)")
    print(f"GridSearchCV(VotingClassifier) {t_naive}  best {naive_best}")
    print(f"VotingFusionSearch(cv=3)       {t_ours}  best {ours.best_members_}  "
          f"ratio {t_naive.wall / t_ours.wall:5.1f}x wall, {t_naive.cpu / t_ours.cpu:5.1f}x CPU")


if __name__ == "__main__":
    main()

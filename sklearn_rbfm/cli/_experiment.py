"""``rbfm experiment``: the RBFM paper's experiment on any labelled folder.

Protocol (per outer fold, or once for a given train/devel/test split): the
extractors and the members (base, minimal- and negative-masked models per
embedder, and the three feature-fusion models) are fitted on the *fit* part,
the decision-level fusion is chosen on the *development* part, and every
model, the chosen fusion and the baselines are scored on the *test* part,
which nothing was fitted or chosen on.
"""

import collections
import hashlib
import json
import os
import shlex
import sys
import uuid

import numpy as np

from ._common import CommandError, Progress
from ._data import check_dataset, load_dataset
from ._extractors import ALL_EMBEDDERS, EMBEDDING_WIDTH, availability, make_extractor
from ._splits import make_splits

MASKINGS = ("none", "minimal", "negative")
SUFFIX = {"none": "", "minimal": "_min", "negative": "_neg"}
C_GRID_LOGREG = (0.01, 0.1, 1.0, 10.0)
C_GRID_SVM = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
FOLD_STAGES = ("models", "baselines")


def add_arguments(parser):
    parser.add_argument("data_dir", metavar="DATA_DIR",
                        help="folder of clips: a path,label CSV, one sub-folder "
                        "per class, or the ComParE 2019 Orca layout")
    add_options(parser)


def add_options(parser, *, out="rbfm_results", cv=5):
    parser.add_argument("--labels", metavar="CSV", default=None,
                        help="label file inside DATA_DIR (default labels.csv)")
    parser.add_argument("--positive", metavar="LABEL", default=None,
                        help="binary task: LABEL against all other labels")
    parser.add_argument("--groups", metavar="COLUMN", default=None,
                        help="CSV column of groups (speaker, recording) never "
                        "split across fit/dev/test")
    parser.add_argument("--sr", type=float, default=16000, metavar="HZ",
                        help="sampling rate clips are resampled to "
                        "(default 16000)")
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="clip length in seconds, padded or cropped "
                        "(default: the longest clip, at most 10 s)")
    parser.add_argument("--playback-rate", type=float, default=1.0, metavar="R",
                        help="treat audio as replayed R times faster (low "
                        "whale calls into the models' band)")
    parser.add_argument("--embedders", default=None, metavar="a,b,c",
                        help="comma-separated among " + ", ".join(ALL_EMBEDDERS)
                        + " (default: every one available offline)")
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--cv", type=int, default=cv, metavar="K",
                       help=f"outer folds of the nested estimate (default {cv})")
    split.add_argument("--dev-split", metavar="COLUMN", default=None,
                       help="CSV column with train/devel/test roles instead of "
                       "cross-validation")
    parser.add_argument("--inner-cv", type=int, default=3, metavar="K",
                        help="inner folds choosing the fusion on out-of-fold "
                        "probabilities (default 3)")
    parser.add_argument("--selection", default="greedy",
                        choices=("greedy", "exhaustive", "one_se", "holdout", "average"),
                        help="how the fused subset is chosen (default greedy)")
    parser.add_argument("--n-features", type=int, default=None, metavar="N",
                        help="features kept by minimal masking; more than an "
                        "embedding's width is an error (default: half of each "
                        "embedding)")
    parser.add_argument("--epochs", type=int, default=None, metavar="E",
                        help="training epochs of the dense models (default: "
                        "the base model's, 150 full-batch epochs)")
    parser.add_argument("--cnn-epochs", type=int, default=20, metavar="E",
                        help="maximum epochs of CNN fine-tuning (default 20)")
    parser.add_argument("--out", default=out, metavar="DIR",
                        help=f"output folder (default {out})")
    parser.add_argument("--n-jobs", type=int, default=None, metavar="J",
                        help="parallel jobs for decoding, feature "
                        "extraction and the inner folds of the models, -1 for "
                        "all cores (default 1)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="random seed (default 0)")
    parser.add_argument("--save-model", metavar="PATH", default=None,
                        help="also fit the chosen fusion on all the data and "
                        "save it for 'rbfm detect'")
    parser.add_argument("--no-opensmile", action="store_true",
                        help="skip the openSMILE ComParE baseline")


def _key(*parts):
    digest = hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:12]


class _Cache:
    """Files under ``out/cache`` named by what they were computed from."""

    def __init__(self, out):
        self.root = os.path.join(out, "cache")
        os.makedirs(self.root, exist_ok=True)

    def array(self, name, key, compute):
        path = os.path.join(self.root, f"{name}-{key}.npy")
        if os.path.exists(path):
            return np.load(path), True
        value = np.asarray(compute())
        np.save(path + ".tmp.npy", value)
        os.replace(path + ".tmp.npy", path)
        return value, False

    def json(self, name, key):
        path = os.path.join(self.root, f"{name}-{key}.json")
        if os.path.exists(path):
            with open(path) as fh:
                return json.load(fh)
        return None

    def save_json(self, name, key, value):
        path = os.path.join(self.root, f"{name}-{key}.json")
        with open(path + ".tmp", "w") as fh:
            json.dump(value, fh)
        os.replace(path + ".tmp", path)


def model_table(slices):
    """(name, embedder, masking) of every member, in member order."""
    rows = []
    for name in slices:
        rows += [(name + SUFFIX[m], name, m) for m in MASKINGS]
    if len(slices) > 1:
        rows += [("FF" + SUFFIX[m], "FF", m) for m in MASKINGS]
    return rows


def _auc(y, score):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def _mean_std(values):
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std())


def summarise(experiment, folds):
    """Aggregate the per-fold results into the ``results.json`` dictionary.

    Each score is the mean over folds of the score on the fold's test part
    (with its standard deviation); fusion subsets are ranked by their mean
    out-of-fold score on the training part; the best fusion's test score is
    the mean over folds of the test score of the fusion each fold chose.
    """
    from scipy.stats import rankdata

    from ._common import installed_versions

    y = experiment.y
    slices = {name: None for name in experiment.embedders}
    tests = [np.asarray(f["test_index"]) for f in folds]
    models = []
    for name, embedder, masking in model_table(slices):
        oof = [_auc(y[f["train_index"]], f["members"][name]["oof"]) for f in folds]
        test = [_auc(y[t], f["members"][name]["test"]) for t, f in zip(tests, folds)]
        mean, std = _mean_std(test)
        models.append({
            "name": name, "embedder": embedder, "masking": masking,
            "n_features": int(round(np.mean([f["n_features"][name] for f in folds]))),
            "selection_auc": _mean_std(oof)[0], "test_auc": mean, "test_auc_std": std,
            "test_auc_per_fold": test,
        })
    subsets = [tuple(m) for m in folds[0]["fusion"]["members"]]
    scores = np.mean([f["fusion"]["score"] for f in folds], axis=0)
    # equal scores share the lowest rank, as in VotingFusionSearch.cv_results_
    ranks = rankdata(-scores, method="min").astype(int)
    order = np.argsort(ranks, kind="stable")
    ranking = [{"members": list(subsets[i]), "score": float(scores[i]),
                "rank": int(ranks[i])} for i in order]
    chosen = [tuple(f["fusion"]["best_members"]) for f in folds]
    fusion_test = [_auc(y[t], f["fusion"]["test"]) for t, f in zip(tests, folds)]
    most_common = collections.Counter(chosen).most_common(1)[0][0]
    # the protocol's own choice: the model with the best out-of-fold AUC
    best_single = max(models, key=lambda m: m["selection_auc"])
    oracle = max(models, key=lambda m: m["test_auc"])
    baselines = {}
    for name in folds[0]["baselines"]:
        test = [_auc(y[t], f["baselines"][name]["test"]) for t, f in zip(tests, folds)]
        baselines[name] = {
            "test_auc": _mean_std(test)[0], "test_auc_std": _mean_std(test)[1],
            "C": [f["baselines"][name]["C"] for f in folds]}
    return {
        "models": models,
        "fusion_ranking": ranking,
        "best_fusion": {
            "members": list(most_common),
            "chosen_per_fold": [list(c) for c in chosen],
            "selection_auc": _mean_std([f["fusion"]["best_score"] for f in folds])[0],
            "test_auc": _mean_std(fusion_test)[0],
            "test_auc_std": _mean_std(fusion_test)[1],
            "test_auc_per_fold": fusion_test,
        },
        "best_single": {"name": best_single["name"],
                        "selection_auc": best_single["selection_auc"],
                        "test_auc": best_single["test_auc"]},
        # chosen on the test parts themselves: an upper bound, not a result
        "oracle_single": {"name": oracle["name"], "test_auc": oracle["test_auc"]},
        "baselines": {name: b["test_auc"] for name, b in baselines.items()},
        "baseline_details": baselines,
        "config": experiment.config,
        "versions": installed_versions(),
    }


class Experiment:
    """One run of ``rbfm experiment`` (see the module docstring)."""

    def __init__(self, args, progress=None):
        self.args = args
        self.progress = progress or Progress()
        self.out = args.out
        self.run_id = uuid.uuid4().hex[:12]

    # ---------------------------------------------------------------- setup
    def check_outputs(self):
        """Refuse unusable output locations before any work starts."""
        args = self.args
        if args.n_jobs is not None and args.n_jobs == 0:
            raise CommandError("--n-jobs 0 runs nothing: give a number of parallel "
                               "jobs (1, 2, ...) or -1 for all cores.")
        out = os.path.abspath(self.out)
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as exc:
            raise CommandError(
                f"--out {self.out!r} cannot be created ({exc.strerror}); give a "
                "folder path that is not under a file, in a writable place.") from exc
        if not os.access(out, os.W_OK | os.X_OK):
            raise CommandError(f"--out {self.out!r} is not writable; choose another "
                               "folder.")
        if args.save_model:
            folder = os.path.dirname(os.path.abspath(args.save_model))
            if not os.path.isdir(folder):
                raise CommandError(
                    f"--save-model {args.save_model!r}: folder {folder!r} does not "
                    "exist; create it first or choose another path.")
            if not os.access(folder, os.W_OK):
                raise CommandError(f"--save-model {args.save_model!r}: folder "
                                   f"{folder!r} is not writable.")
            if os.path.isdir(args.save_model):
                raise CommandError(f"--save-model {args.save_model!r} is a folder; "
                                   "give a file path such as model.joblib.")
        self.cache = _Cache(self.out)

    def remove_stale_outputs(self):
        """Delete a previous run's outputs, so that none passes for this run's."""
        from ._report import OUTPUTS

        stale = [os.path.join(self.out, name) for name in OUTPUTS]
        if self.args.save_model:
            stale.append(self.args.save_model)
        removed = [p for p in stale if os.path.isfile(p)]
        for path in removed:
            os.remove(path)
        if removed:
            self.progress.say("removed the outputs of an earlier run: " + ", ".join(
                os.path.basename(p) for p in removed))

    def check_widths(self):
        """An explicit --n-features above an embedding's width is an error."""
        n = self.args.n_features
        for name in self.embedders:
            width = EMBEDDING_WIDTH[name]
            if n is not None and n > width:
                raise CommandError(
                    f"--n-features {n} is larger than the {width}-d embedding of "
                    f"{name!r}; give --n-features {width} or less (or leave it "
                    "out: half of each embedding).")

    def prepare(self):
        args, say = self.args, self.progress.say
        for option in ("cv", "inner_cv", "n_features", "epochs", "cnn_epochs"):
            value = getattr(args, option)
            if value is not None and value < (2 if option in ("cv", "inner_cv") else 1):
                raise CommandError(
                    f"--{option.replace('_', '-')} must be at least "
                    f"{2 if option in ('cv', 'inner_cv') else 1}, got {value}.")
        if args.sr <= 0 or args.playback_rate <= 0 or (
                args.duration is not None and args.duration <= 0):
            raise CommandError("--sr, --duration and --playback-rate must be positive.")
        if args.embedders:
            wanted = [e.strip() for e in args.embedders.split(",") if e.strip()]
            unknown = [e for e in wanted if e not in ALL_EMBEDDERS]
            if unknown:
                raise CommandError(
                    f"unknown embedder(s) {unknown}; choose among {ALL_EMBEDDERS}.")
        else:
            wanted = list(ALL_EMBEDDERS)
        with self.progress.stage("check", "checking the data"):
            data = load_dataset(args.data_dir, labels=args.labels,
                                dev_split=args.dev_split, positive=args.positive,
                                groups=args.groups)
            n_folds = 1 if data["roles"] is not None else args.cv
            durations = check_dataset(data, n_folds=n_folds)
        classes = data["classes"]
        positive = data["positive"] if data["positive"] is not None else classes[-1]
        self.y = (data["y"] == positive).astype(int)
        self.data, self.positive = data, positive
        self.duration = args.duration or float(min(10.0, np.max(durations)))
        say(f"{len(self.y)} clips from {data['source']}: {self.y.sum()} "
            f"{positive!r} vs {len(self.y) - self.y.sum()} other; clips of "
            f"{np.min(durations):.2f}-{np.max(durations):.2f} s, used as "
            f"{self.duration:g} s at {args.sr:g} Hz")
        self.embedders, self.skipped = [], {}
        for name in wanted:
            reason = availability(name)
            if reason is None:
                self.embedders.append(name)
            else:
                self.skipped[name] = reason
                say(f"embedder {name} skipped: {reason}")
        if not self.embedders:
            raise CommandError("no embedder can run on this machine (see above).")
        say(f"embedders: {', '.join(self.embedders)}")
        self.check_widths()
        self.splits = make_splits(self.y, data["groups"], data["roles"],
                                  n_folds, args.seed)
        self.n_samples = int(round(args.sr * self.duration))
        self.config = {
            "data_dir": os.path.abspath(args.data_dir), "labels": args.labels,
            "positive": positive, "groups": args.groups, "sr": args.sr,
            "duration": self.duration, "playback_rate": args.playback_rate,
            "embedders": self.embedders, "skipped_embedders": self.skipped,
            "protocol": (("test part from column " + args.dev_split
                          if args.dev_split else "given train/devel/test")
                         if data["roles"] is not None
                         else f"{n_folds}-fold outer CV")
            + f"; fusion chosen by '{args.selection}' on {args.inner_cv}-fold "
            "inner out-of-fold probabilities",
            "cv": n_folds, "inner_cv": args.inner_cv, "selection": args.selection,
            "dev_split": args.dev_split,
            "n_features": (args.n_features if args.n_features is not None else
                           "half of each embedding"),
            "epochs": args.epochs,
            "cnn_epochs": args.cnn_epochs,
            "seed": args.seed, "n_clips": int(len(self.y)),
            "n_positive": int(self.y.sum()),
            "command": "rbfm experiment " + " ".join(
                shlex.quote(a) for a in getattr(args, "argv", sys.argv[2:])),
        }
        self.data_key = _key(list(data["filenames"]), args.sr, self.duration)

    # ------------------------------------------------------------- features
    def waveforms(self):
        from .._loader import AudioLoader

        def compute():
            loader = AudioLoader(sr=self.args.sr, duration=self.duration,
                                 n_jobs=self.args.n_jobs)
            return loader.fit_transform(self.data["filenames"])

        with self.progress.stage("decode", "decoding audio"):
            waves, cached = self.cache.array("waveforms", self.data_key, compute)
            if cached:
                self.progress.say("waveforms from the cache")
        return waves.astype(np.float32, copy=False)

    def baseline_features(self, waves):
        from ..baselines import ComParEFunctionals, LogMelStatistics

        features = {}
        with self.progress.stage("baseline_features", "baseline features"):
            features["logmel_logreg"], _ = self.cache.array(
                "logmel_stats", self.data_key,
                lambda: LogMelStatistics(sr=self.args.sr).fit_transform(waves))
            if not self.args.no_opensmile:
                try:
                    import opensmile  # noqa: F401
                except ImportError:
                    self.progress.say("openSMILE baseline skipped: opensmile is "
                                      "not installed (pip install "
                                      "'sklearn_rbfm[opensmile]')")
                else:
                    features["compare_svm"], _ = self.cache.array(
                        "compare2016", self.data_key,
                        lambda: ComParEFunctionals(sr=self.args.sr).fit_transform(waves))
        return features

    # ----------------------------------------------------------------- folds
    def classifier(self, groups):
        """The unfitted RBFMClassifier of this run."""
        from joblib import Memory

        from .._rbfm import RBFMClassifier, default_base_estimator
        from ._splits import splitter

        args = self.args
        embedders = [(name, make_extractor(
            name, sr=args.sr, n_samples=self.n_samples,
            playback_rate=args.playback_rate, seed=args.seed, epochs=args.cnn_epochs))
            for name in self.embedders]
        base = default_base_estimator()
        if args.epochs is not None:
            base.set_params(epochs=args.epochs)
        return RBFMClassifier(
            embedders, base_estimator=base, n_jobs=args.n_jobs,
            n_features=args.n_features if args.n_features is not None else 0.5,
            selection=args.selection, cv=splitter(args.inner_cv, groups, args.seed),
            memory=Memory(os.path.join(self.out, "cache", "joblib"), verbose=0),
            random_state=args.seed)

    def run_fold(self, k, fold, waves, base_features):
        from sklearn.model_selection import cross_validate

        args, say, y = self.args, self.progress.say, self.y
        train = np.sort(np.concatenate([fold["fit"], fold["dev"]]))
        test = fold["test"]
        key = _key(self.data_key, self.config["protocol"], self.embedders,
                   args.playback_rate, args.seed, args.n_features, args.epochs,
                   args.cnn_epochs, train.tolist(), test.tolist(), sorted(base_features))
        done = self.cache.json(f"fold{k}", key)
        if done is not None:
            say(f"fold {k + 1}/{len(self.splits)}: finished before, from the cache")
            return done
        before = dict(self.progress.timings)
        groups = self.data["groups"]
        with self.progress.stage("models", f"fold {k + 1}: embedders, members and "
                                 "fusion (RBFMClassifier)"):
            outcome = cross_validate(
                self.classifier(None if groups is None else groups[train]), waves, y,
                cv=[(train, test)], params={"groups": groups}, scoring="roc_auc",
                return_estimator=True, error_score="raise")
        clf = outcome["estimator"][0]
        member_test = clf.predict_member_proba(waves[test])[:, :, 1]
        result = {"members": {}, "n_features": {}, "relevance": {},
                  "train_index": train.tolist(), "test_index": test.tolist()}
        for m, (name, member) in enumerate(clf.members_.items()):
            result["members"][name] = {"oof": clf.oof_proba_[m, :, 1].tolist(),
                                       "test": member_test[m].tolist()}
            result["n_features"][name] = int(member[-1].n_features_in_)
            mask = member.named_steps.get("mask")
            if mask is not None and mask.strategy == "minimal":
                result["relevance"][name] = {
                    "feature_relevance": mask.feature_relevance_.tolist(),
                    "support": mask.support_.tolist()}
            say(f"  {name}: out-of-fold AUC "
                f"{_auc(y[train], result['members'][name]['oof']):.3f}")
        cv = clf.cv_results_
        result["fusion"] = {
            "members": [list(m) for m in cv["members"]],
            "score": [float(s) for s in cv["score"]],
            "best_members": list(clf.best_members_),
            "best_score": float(clf.best_score_),
            "test": clf.predict_proba(waves[test])[:, 1].tolist(),
        }
        with self.progress.stage("baselines", f"fold {k + 1}: baselines"):
            result["baselines"] = {
                name: _baseline(name, F, y, train, test, groups, args)
                for name, F in base_features.items()}
        # kept with the fold, so that a resumed run still reports the time
        # the fold took
        result["timings_s"] = {
            stage: self.progress.timings[stage] - before.get(stage, 0.0)
            for stage in FOLD_STAGES}
        self.cache.save_json(f"fold{k}", key, result)
        return result

    def save_model(self, waves, results):
        """Fit one RBFMClassifier on all the data and save it."""
        from ._model_file import save_model

        args, groups = self.args, self.data["groups"]
        with self.progress.stage("save_model", "fitting the final RBFMClassifier "
                                 "on all the data"):
            clf = self.classifier(groups).fit(waves, self.y, groups=groups)
            members = [n for n, w in zip(clf.members_, clf.weights_) if w]
            save_model(clf, args.save_model, sr=args.sr,
                       window=self.duration, positive_class=1,
                       description=(f"run {self.run_id}: {self.positive!r} (class 1) "
                                    f"vs the rest; fusion of {', '.join(members)}"
                                    f"; trained by: {self.config['command']}"))
        self.progress.say(f"model saved to {args.save_model} (fusion of "
                          f"{', '.join(members)})")
        return list(clf.best_members_)

    def run(self):
        from ._report import bag, write_outputs

        self.check_outputs()
        self.prepare()
        self.remove_stale_outputs()
        waves = self.waveforms()
        base_features = self.baseline_features(waves)
        folds = []
        for k, fold in enumerate(self.splits):
            self.progress.say(
                f"fold {k + 1}/{len(self.splits)}: "
                f"{len(fold['fit']) + len(fold['dev'])} training, "
                f"{len(fold['test'])} test clips")
            folds.append(self.run_fold(k, fold, waves, base_features))
        for stage in FOLD_STAGES:
            self.progress.timings[stage] = sum(
                f.get("timings_s", {}).get(stage, 0.0) for f in folds)
        results = summarise(self, folds)
        results["run_id"] = self.run_id
        results["config_hash"] = _key(self.config)
        if self.args.save_model:
            results["saved_model"] = {"path": os.path.abspath(self.args.save_model),
                                      "members": self.save_model(waves, results)}
        with self.progress.stage("report", "writing the report"):
            results["timings_s"] = {k: round(v, 1) for k, v in
                                    self.progress.timings.items()}
            test = np.concatenate([f["test_index"] for f in folds])
            curves = {"fusion chosen in each fold":
                      np.concatenate([f["fusion"]["test"] for f in folds])}
            best = results["best_single"]["name"]
            curves[best] = np.concatenate([f["members"][best]["test"] for f in folds])
            for name in folds[0]["baselines"]:
                curves[name] = np.concatenate([f["baselines"][name]["test"]
                                               for f in folds])
            paths = write_outputs(self.out, results, self.y[test], curves,
                                  folds[0]["relevance"])
        self.progress.say(f"report: {paths['report']}")
        print(f"best fusion {bag(results['best_fusion']['members'])}: test "
              f"AUC {results['best_fusion']['test_auc']:.3f}; report in "
              f"{paths['report']}")
        return results


def _baseline(name, F, y, train, test, groups, args):
    """Choose C by inner cross-validation on the training part; score on test."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from ._splits import splitter

    if name == "logmel_logreg":
        clf, grid = LogisticRegression(class_weight="balanced", max_iter=2000), C_GRID_LOGREG
    else:
        clf, grid = LinearSVC(class_weight="balanced", max_iter=20000), C_GRID_SVM
    g = None if groups is None else groups[train]
    search = GridSearchCV(make_pipeline(StandardScaler(), clf),
                          {clf.__class__.__name__.lower() + "__C": list(grid)},
                          cv=splitter(args.inner_cv, g, args.seed), scoring="roc_auc")
    search.fit(F[train], y[train], groups=g)
    return {"C": float(search.best_params_[clf.__class__.__name__.lower() + "__C"]),
            "selection_auc": float(search.best_score_),
            "test": search.decision_function(F[test]).tolist()}


def run(args):
    return Experiment(args).run()

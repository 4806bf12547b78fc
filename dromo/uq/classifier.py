"""The classifier of a ROM dictionary: from a draw's KL coefficients ξ (r,) to a cluster (a local ROM).

scikit-learn (Debian's python3-sklearn): ``knn`` (k-nearest neighbours, distance-weighted, on the ξ) or
``logistic`` (multinomial logistic regression). Its accuracy is measured by K-fold cross-validation
(shuffled with a fixed seed). Stored without pickles: k-NN as its training set (ξ, labels, k; refitted
when loaded: the same predictions), logistic regression as its coefficients and intercepts.
"""
import numpy as np

from ..errors import InputError

KINDS = ("knn", "logistic")


def _estimator(kind, n_train):
    if kind == "knn":
        from sklearn.neighbors import KNeighborsClassifier
        return KNeighborsClassifier(n_neighbors=max(1, min(5, n_train - 1)), weights="distance")
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression
        return LogisticRegression(C=10.0, max_iter=2000)
    raise InputError(f"classifier {kind!r}: use one of {KINDS}")


class Classifier:
    """Predicts the cluster of KL coefficients. ``kind`` in :data:`KINDS`; ``arrays`` its stored data."""

    def __init__(self, kind, arrays, n_clusters):
        self.kind = kind
        self.arrays = {k: np.asarray(v) for k, v in arrays.items()}
        self.n_clusters = int(n_clusters)
        self._est = None

    @classmethod
    def fit(cls, kind, X, y, n_clusters):
        """Fit on ``X (m, r)``, ``y (m,)``. One cluster: a constant."""
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=np.int64)
        if n_clusters == 1 or np.unique(y).size == 1:
            return cls("constant", {"label": np.array([int(y[0])])}, n_clusters)
        if kind == "knn":
            return cls(kind, {"X": X, "y": y}, n_clusters)
        est = _estimator(kind, len(y)).fit(X, y)
        return cls(kind, {"coef": est.coef_, "intercept": est.intercept_, "classes": est.classes_}, n_clusters)

    def predict(self, X):
        """Clusters of ``X (n, r)``: ``(n,)`` int."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if self.kind == "constant":
            return np.full(len(X), int(self.arrays["label"][0]))
        if self.kind == "knn":
            if self._est is None:
                self._est = _estimator("knn", len(self.arrays["y"])).fit(self.arrays["X"], self.arrays["y"])
            return np.asarray(self._est.predict(X), dtype=np.int64)
        z = X @ self.arrays["coef"].T + self.arrays["intercept"]
        cl = self.arrays["classes"]
        if z.shape[1] == 1:                              # binary: sklearn keeps one column
            return np.where(z[:, 0] > 0, cl[1], cl[0]).astype(np.int64)
        return cl[np.argmax(z, axis=1)].astype(np.int64)


def cross_validated_predictions(kind, X, y, n_clusters, folds=5, seed=0):
    """The cluster each training point gets from a classifier fitted without its fold
    (``folds``-fold cross-validation, shuffled with a fixed seed): ``(m,)`` int."""
    from sklearn.model_selection import KFold
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=np.int64)
    folds = max(2, min(int(folds), len(y)))
    pred = np.empty(len(y), dtype=np.int64)
    for tr, te in KFold(folds, shuffle=True, random_state=seed).split(X):
        pred[te] = Classifier.fit(kind, X[tr], y[tr], n_clusters).predict(X[te])
    return pred


def cross_validated_accuracy(kind, X, y, n_clusters, folds=5, seed=0):
    """Mean accuracy over ``folds``-fold cross-validation (shuffled, fixed seed) of :meth:`Classifier.fit`."""
    return float(np.mean(cross_validated_predictions(kind, X, y, n_clusters, folds, seed) == np.asarray(y)))

"""A grid search over Unlocker's knobs on a local Dask cluster, through joblib's backend."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from sklearn_unlocker import UnlockerClassifier

GRID = {"tau_lr": [0.1, 0.5], "strategy__p_threshold": [0.3, 0.5]}


@pytest.mark.slow
def test_grid_search_on_a_local_dask_cluster_matches_the_sequential_one(small_noisy_tabular):
    distributed = pytest.importorskip("distributed")
    import joblib

    data = small_noisy_tabular

    def search():
        estimator = UnlockerClassifier(max_epochs=3, warmup_epochs=1, random_state=0,
                                       classes=np.arange(4))
        return GridSearchCV(estimator, GRID, cv=2, scoring="balanced_accuracy")

    sequential = search().fit(data.X_train, data.y_train)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_backend("dask"):
        remote = search().fit(data.X_train, data.y_train)
    assert remote.best_params_ == sequential.best_params_
    assert np.allclose(remote.cv_results_["mean_test_score"],
                       sequential.cv_results_["mean_test_score"])
    assert np.array_equal(remote.predict(data.X_test), sequential.predict(data.X_test))

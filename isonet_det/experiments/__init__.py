"""The machinery of the experiment tools under ``tools/`` (not the science, which is in
:mod:`isonet_det.analysis`): training runs in their own processes (:mod:`.launch`, through the
package's own ``tools/train.py``), run folders and tables (:mod:`.reporting`), the config smoke
run (:mod:`.smoke_run`), short classification runs with a learning-rate sweep
(:mod:`.trainability`), learning rates chosen on a tuning split and paired comparisons over seeds
(:mod:`.tuning`), the detector comparison's arms (:mod:`.detector_arms`)."""

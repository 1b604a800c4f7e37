"""mlpq worker: the job store, the artifact store, the training runner and its Celery app.

`celery -A worker worker` runs the app in worker/celery.py (Celery's documented layout).
"""

"""flowmon: a workflow runner and live monitor.

Run DAG workflows, watch executions live, replay them, and deliver webhooks, in a single NiceGUI process.
"""

__version__ = '0.1.0'

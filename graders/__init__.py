"""nngrade: an autograder for build-it-yourself deep-learning assignments.

The engine is a straight pipeline, one module a stage:
assignment (what to grade) → sandbox (run the student's code) → compare → engine
(diagnose, score) → render (results.json, feedback.md, grades.csv).
"""
__version__ = "0.1.0"

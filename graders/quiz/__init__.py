"""Quizzes: assignments of ``kind = "quiz"`` whose submission is an answers.toml, graded
in the trusted process (no student code runs). ``model`` is a quiz and its key, ``parse``
reads one from its manifest, ``scoring`` grades an answers.toml, ``templates`` makes the
student's repository, ``validate`` proves a quiz sound and ``answers_format`` is the
answers.toml reader shared with the student's check_answers.py. ``graders.kinds`` joins
them to the rest of the grader.
"""

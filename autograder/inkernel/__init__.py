"""Everything that runs inside the student's kernel while it is graded, and nothing else.

The grading kernel belongs to the student: whatever it holds, their code can read and replace. So it
holds nothing the grade depends on: no hidden check, no reference solution, no grader-held data, no
key, no expected value. What runs there is this package alone:

* :mod:`~autograder.inkernel.wire`: values as data (tensors, numbers, strings, lists and dicts of
  them), encoded without pickle and decoded with limits; the trusted side decodes replies with it;
* :mod:`~autograder.inkernel.server`: the protocol server, one shell message type, that calls the
  student's functions and methods on the data the trusted side sends and answers with data;
* :mod:`~autograder.inkernel.recipes`: grader-written procedures the trusted side may run on student
  objects (a gradient, the fixed training recipe, a model exported as a graph of tensor operations);
* :mod:`~autograder.inkernel.kernel` and :mod:`~autograder.inkernel.zygote`: how the kernel starts,
  from scratch or forked from a preloaded process.

A student may read or replace any of it: a replaced server only answers with other data, which the
trusted side (:mod:`autograder.remote`, the hidden checks) judges as it judges any reply. This package
imports nothing else of ``autograder``; ``tests/test_inkernel.py`` proves the kernel holds no more.
"""

"""What the tests share: the course's planted mistakes and correct alternatives, kernels, labs, browsers."""

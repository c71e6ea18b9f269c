"""The topic encoding theorem's matching reference."""


from sim import streams
from sim.bayes.lda import LDA
from theorems.zhang2024 import encoding_topics as el

ROUND = 1e-10  # float64 round trips through a few divisions


def test_the_matching_check_is_zero_for_the_best_order_and_not_for_a_swap():
    lda = LDA.random(4, 30, streams(0).data)
    noisy = lda.topics + 0.01 * streams(1).data.random(lda.topics.shape)
    noisy /= noisy.sum(1, keepdims=True)
    assert el.matching_excess(noisy, lda.topics) <= ROUND
    swapped = noisy[[1, 0, 2, 3]]
    assert el.matching_excess(swapped, lda.topics) > 0.1  # two topics' L1 distances, per topic

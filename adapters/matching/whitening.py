"""A linear map learned from one rules document: what its keys' own questions vary in, shrunk.

Every question of one narrow product embeds close to every other (cosines of 0.8 to 0.9), so
the raw cosine says little about which key a text asks for. The questions a key lists are
paraphrases of one another: the directions in which they differ are wording, not meaning.
Dividing those directions down (whitening the within-key scatter, with a ridge so a document of
few questions still gets a sound map), after taking away the centre all the questions share,
leaves the directions in which keys differ. It is learned once per rules version, from the
document only: 384 x 384 numbers, whatever the document's size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float32]
RIDGE = 1.0
"""Added to each variance, as a share of their mean: chosen on the dev half of the BQ set
(tests/bench/faq_candidates.py); 0.5 to 2 do about as well."""

EVERYDAY_QUESTIONS = (
    "你好", "在吗", "谢谢", "好的", "人工客服", "我要投诉", "怎么联系你们",
    "快递到哪了", "什么时候发货", "可以退货吗", "退款多久到账", "怎么修改收货地址",
    "订单取消了怎么办", "优惠券怎么用", "会员有什么权益", "积分可以换什么",
    "怎么注册账号", "忘记密码怎么办", "怎么修改手机号", "账号被冻结了",
    "发票怎么开", "运费怎么算", "支持货到付款吗", "商品有质量问题",
    "营业时间是几点", "门店在哪里", "可以预约吗", "价格是多少",
    "今天天气怎么样", "你是机器人吗", "怎么下载app", "小程序打不开",
    "页面一直加载不出来", "支付失败了", "扣款了但是订单没生成", "怎么绑定微信",
    "活动什么时候结束", "可以开发票吗", "怎么申请售后", "多久能处理好",
)  # fmt: skip
"""Questions of every kind a mini program hears (our own words), averaged into the centre with
the document's: a large document's centre is its own, but one of one or two keys keeps a centre
away from its questions (the mean of one key's questions alone would leave nothing to compare)."""


class Whitening:
    """Maps L2-normalised embeddings to L2-normalised vectors in which keys stand apart."""

    def __init__(self, vectors: Matrix, owners: Sequence[int], everyday: Matrix) -> None:
        """`vectors`: the document's questions, `owners[i]` the key of row i; `everyday`:
        the embeddings of EVERYDAY_QUESTIONS."""
        self._centre = np.vstack([vectors, everyday]).mean(0).astype(np.float32)
        keys = np.asarray(owners, np.intp)
        means = np.zeros((int(keys.max()) + 1 if len(keys) else 0, vectors.shape[1]))
        np.add.at(means, keys, vectors)
        means /= np.maximum(np.bincount(keys, minlength=len(means)), 1)[:, None]
        wording = vectors - means[keys]
        scatter = wording.T @ wording / max(len(wording), 1)
        variances, axes = np.linalg.eigh(scatter)
        ridge = RIDGE * float(variances.mean()) or 1.0  # no scatter at all: leave it alone
        self._map = ((axes / np.sqrt(variances + ridge)) @ axes.T).astype(np.float32)

    def apply(self, vectors: Matrix) -> Matrix:
        mapped = (vectors - self._centre) @ self._map
        return unit_rows(mapped)


def unit_rows(matrix: NDArray[np.floating]) -> Matrix:
    lengths = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.maximum(lengths, 1e-12), np.float32)

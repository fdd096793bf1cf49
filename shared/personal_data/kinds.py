"""The kinds of personal data and the placeholder that replaces each on a public page."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    NAME = "name"
    PHONE = "phone"
    ID = "id"
    EMAIL = "email"
    ADDRESS = "address"
    QQ = "qq"
    WECHAT = "wechat"
    PLATE = "plate"
    BANK = "bank"
    TRACKING = "tracking"


#: What a public text shows in place of each kind. The texts published are the citizens'
#: Chinese comments and our Chinese answers, so the placeholders are part of that text (not
#: of the page around it) and stay Chinese whatever language the reader chose.
PLACEHOLDERS: dict[Kind, str] = {
    Kind.NAME: "［姓名］",
    Kind.PHONE: "［电话］",
    Kind.ID: "［身份证号］",
    Kind.EMAIL: "［邮箱］",
    Kind.ADDRESS: "［地址］",
    Kind.QQ: "［QQ号］",
    Kind.WECHAT: "［微信号］",
    Kind.PLATE: "［车牌号］",
    Kind.BANK: "［银行卡号］",
    Kind.TRACKING: "［查询编号］",
}

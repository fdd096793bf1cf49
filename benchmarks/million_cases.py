"""A million realistic cases in PostgreSQL, quickly: the data set of the benchmarks that need
volume (the queue's latency, the monthly report).

    from benchmarks.million_cases import load_cases, prepare_schema
    prepare_schema(url)           # an empty, migrated database with the demo notice and offices
    stats = load_cases(url, 1_000_000)

What is loaded, as three years of a county propaganda department's public feedback:

- ``received_at`` spread over the three years up to now, rising (the last month sees twice
  the cases of the first); ids grow with time, as they do in production, except that calls,
  letters and visits are registered up to two days after they were received;
- texts from a pool of a few thousand distinct subjects and bodies (finance, online opinion,
  theory study, civilisation practice, the media centre...) with ``search_terms`` computed by
  :func:`shared.search.search_terms` once per distinct text; the common words (财务, 舆情,
  融媒体...) match tens of thousands of cases each, the rare ones (皮影, 谣言) a few dozen;
- the demo notice's 8 offices, weighted, the office following the text's topic (12% sent
  elsewhere), its notice items, categories (inquiries with the demo's short deadlines) and
  channels; cases still in triage have no office;
- a reply delay per case: cases whose answer would lie in the future are still open (about
  3% of all, nearly all recent; a tenth of them in triage, without an office, the others
  assigned), one answer in twenty comes after the deadline, and a few cases were forgotten
  and are open and overdue; a few percent are rejected or spam. ``accepted_at``,
  ``acknowledge_by``, ``reply_due`` (end of the Asia/Shanghai day; calendar days, no
  holidays; inquiries get the demo's short limits), extensions, ``first_replied_at``,
  ``closed_at`` and ``updated_at`` agree with ``received_at`` and with now;
- ``ratings`` (a share, default 0.35) of the answered cases are rated within a week of the
  answer and closed then; the unsatisfied ones (7%) are reopened (``reopened_count``) and
  closed some weeks later; the others are closed by the worker 15 days after the answer
  (``tracking.RATING_WINDOW_DAYS``), so "replied" is the last fortnight's answers. The rating
  rows are inserted too, dated when they came.

Not loaded: messages, replies, audit events, fingerprints and clusters.

The rows are generated inside PostgreSQL (INSERT … SELECT over generate_series, joined to the
text pool that is COPYed in first) in two halves on two connections, with foreign-key triggers
off (the rows are consistent by construction). The case table's B-trees and unique
constraints are dropped first and built again afterwards by sorting; the GIN search index is
kept, so that its cost, to_tsvector() of every row (some 150 µs of CPU each) and the GIN
entries, is shared by the two inserting connections (CREATE INDEX of a GIN index runs on one
core). That index is most of the load time. Then VACUUM (ANALYZE), which sets the visibility
map as autovacuum would, for index-only scans.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import make_url, select

from shared import migrate
from shared.db import Database
from shared.demo.seed import DEMO_OFFICES, NOTICE_SLUG, seed_demo
from shared.models import Notice, NoticeItem, Office
from shared.search import search_terms
from shared.security import UNAMBIGUOUS

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/minyi_bench"
SPAN_DAYS = 3 * 365
POOL_SIZE = 4000
RARE_POOL_SIZE = 40
#: Share of cases whose text comes from the rare pool (皮影, 谣言...): 50 per million.
RARE_SHARE = 0.00005
SEED = 20210726

# --- the text pool ----------------------------------------------------------------------------

TOWNS = (
    "平襄镇", "马营镇", "鸡川镇", "榜罗镇", "常家河镇", "义岗川镇", "陇阳镇", "陇山镇", "陇川镇",
    "碧玉镇", "襄南镇", "华家岭镇", "北城铺镇", "什川镇", "李家店镇", "寺子川乡", "第三铺乡",
    "新景乡",
)  # fmt: skip
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋"
_PLACES = "岔湾庄沟堡河坪川塬岘坡咀"

#: (office code, weight of its topic among the cases, subject topics, sentences).
TOPICS: tuple[tuple[str, float, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "finance", 0.10, ("财务管理", "经费使用", "差旅费报销", "项目资金拨付", "财务公开"),
        (
            "通报中说财务管理方面的问题已经整改，但{town}{village}文化广场的建设资金还有一部分没有拨付到位。",
            "希望把部门经费的使用情况按季度公开，账目清楚，方便群众监督。",
            "听说有干部违规报销差旅费，追缴的资金是否已经全部上缴财务，请公布结果。",
            "{village}农家书屋的补助资金{n}元一直没有到账，村里多次询问都说还在走财务程序。",
            "建议把财务支出明细在村务公开栏和网上同时公示。",
            "修订后的机关财务管理制度能否在网上公开全文？",
            "宣传文化项目的资金审批时间太长，施工队多次来村里催款，群众意见很大。",
            "请核实{year}年{month}月组织的培训班经费开支是否符合规定。",
            "财务人员对报销票据的审核把关不严，同样的问题巡察前就有人反映过。",
        ),
    ),
    (
        "cyber", 0.18, ("网络舆情处置", "网信工作", "网上留言办理", "网络生态治理", "舆情转办"),
        (
            "{town}有网民在网上发布不实信息，希望县委网信办及时核实处置。",
            "我在网上留言反映的问题，只收到“已转有关部门”的答复，之后就没有下文了。",
            "通报中提到网络舆情转办的整改已经完成，建议把每一条转办件的办理结果在网上公开。",
            "对网民关注的扶贫政策落实、民生项目等焦点问题，希望网信部门加强监测预警。",
            "舆情提示函发出后，涉事单位多久回复，有没有跟踪问效的制度？",
            "建议定期公布网络舆情分析研判的情况，及时回应群众关切。",
            "有的政务新媒体账号长期不更新，留言也无人回复。",
            "网上有关{town}疫情防控的讨论很多，希望权威部门及时发声。",
            "网信办的举报电话{n}打了好几次都没人接。",
        ),
    ),
    (
        "theory", 0.12, ("理论学习", "意识形态工作", "基层宣讲", "党史学习教育", "中心组学习"),
        (
            "理论学习中心组的学习不能流于形式，建议把学习计划和执行情况向社会公开。",
            "基层宣讲活动要少念文件，多讲身边的事，用群众听得懂的话讲。",
            "意识形态工作责任制落实情况的督查通报能否公开？",
            "村里的党史学习教育很受欢迎，希望多邀请专家到{town}授课。",
            "建议宣讲结束后留出时间让群众提问，并在一个月内给出答复。",
            "学习强国知识竞赛办得很好，希望在{town}也组织一场。",
            "意识形态领域的风险研判要常态化，不能只在检查前开会。",
            "{year}年的理论学习计划有{n}次集中学习，实际开了几次？",
        ),
    ),
    (
        "news", 0.10, ("对外宣传", "新闻外宣", "宣传报道", "红色资源宣传"),
        (
            "对外宣传报道通渭好人好事的稿件太少，建议多宣传{village}的致富带头人。",
            "新闻通讯员培训班能否面向乡镇开放报名？",
            "{town}的红色遗址很有价值，希望加强对外宣传。",
            "宣传片里的部分数据已经过时，建议及时更新。",
            "建议在重要节会期间邀请外地媒体来通渭采访。",
            "新闻发布会的时间和内容能否提前在网上公布？",
            "榜罗镇会议纪念馆的讲解词有错误，外地游客也提出过。",
        ),
    ),
    (
        "civil", 0.15, ("新时代文明实践", "志愿服务", "文明创建", "移风易俗", "道德模范评选"),
        (
            "新时代文明实践站在{village}建起来了，但平时大门紧锁，活动很少。",
            "志愿服务活动不能只拍照留痕，希望真正帮群众解决困难。",
            "文明城市创建期间街道很干净，检查结束后又恢复原样。",
            "建议评选{town}的道德模范和身边好人，并在宣传栏公示。",
            "村里红白喜事大操大办的风气还很重，希望文明办加强移风易俗宣传。",
            "新时代文明实践中心的活动安排能否每月在网上公布？",
            "志愿者的服务时长记录不及时，希望完善登记制度。",
            "文明实践所的图书室{year}年以后就没有添过新书。",
        ),
    ),
    (
        "media", 0.15, ("融媒体中心", "新闻稿审核", "中国通渭网", "电视新闻", "客户端使用"),
        (
            "中国通渭网上的部分新闻稿有错别字，三审三校制度是否落实到位？",
            "县融媒体中心的客户端经常打不开，希望尽快修复。",
            "电视台播出的{town}新闻和实际情况不符，请核实更正。",
            "建议融媒体中心开设群众留言回复专栏，定期公开办理情况。",
            "融媒体中心的直播活动很好，希望增加农业技术方面的节目。",
            "网站上的政策文件只有图片没有文字，老人用手机看不清楚。",
            "{month}月{n}日的新闻里把{village}的名字写错了。",
        ),
    ),
    (
        "party", 0.08, ("机关党建", "组织生活", "三会一课", "主题党日", "党员管理"),
        (
            "机关党支部的三会一课制度落实情况能否公开？",
            "希望党员干部多到{village}走访，了解困难群众的实际情况。",
            "组织生活会要真正开展批评和自我批评，不能走过场。",
            "主题党日活动能否邀请群众代表参加？",
            "听说有的党员长期不参加组织生活，支部是怎么管理的？",
            "管党治党责任要落实到每一个股室和每一名干部。",
        ),
    ),
    (
        "office", 0.12, ("制度建设", "宣传栏更新", "来信办理", "整改情况公开", "办事效率"),
        (
            "宣传部的联系电话经常无人接听，希望安排专人值守。",
            "通报中提到修订了五项管理制度，能否在网上公布全文？",
            "建议在县委宣传部网站设置整改情况专栏，持续更新进展。",
            "{town}的宣传栏很多内容几年都没有更新，希望定期检查更换。",
            "寄到县委宣传部办公室的信件一个多月没有回音。",
            "请假管理办法和议事决策规则修订后效果如何，请向社会说明。",
            "到文化街102号办事，门卫说要先预约，但预约电话打不通。",
        ),
    ),
)  # fmt: skip

#: Sentences that only the rare texts have: their words match a few dozen cases per million.
RARE_SENTENCES = (
    "{village}的皮影戏艺人年纪大了，希望把这项非遗技艺记录下来。",
    "网上流传的关于{town}的谣言已经澄清了吗？",
    "建议用无人机航拍{town}的梯田风光，做成宣传片。",
    "{village}的老戏台年久失修，秦腔剧团演出时很危险。",
)
INTRODUCTIONS = (
    "我是{town}{village}的村民。",
    "我是一名乡村学校的老师。",
    "我是退休干部，一直关注宣传工作。",
    "我是在外地工作的通渭人。",
    "看了巡察整改情况的通报，有几点想法。",
    "",
    "",
)
CLOSINGS = (
    "希望这些意见能被采纳。",
    "盼复，谢谢。",
    "请有关部门核实，给群众一个明确的说法。",
    "我们不是要为难谁，只是希望公开透明。",
    "此事已经反映过{n}次，一直没有结果。",
    "谢谢！",
)
#: (category, share, subject patterns); a few cases come without a category.
CATEGORIES: tuple[tuple[str | None, float, tuple[str, ...]], ...] = (
    ("suggestion", 0.33, ("关于{topic}的建议", "对{topic}的几点建议", "进一步做好{topic}的建议")),
    ("complaint", 0.20, ("反映{topic}方面的问题", "{topic}落实不到位", "对{topic}的意见")),
    ("report", 0.08, ("举报{topic}中的违规问题", "反映{topic}中的违规行为")),
    ("inquiry", 0.27, ("咨询{topic}的有关情况", "请问{topic}的办理进度", "关于{topic}的询问")),
    ("praise", 0.05, ("表扬{topic}的工作人员", "感谢{topic}工作")),
    (None, 0.07, ("{topic}", "关于{topic}")),
)  # fmt: skip
NAMES = (
    "王建国", "李秀英", "张伟", "刘芳", "陈明", "杨静", "赵志强", "黄丽", "周军", "吴敏",
    "马文华", "朱红梅", "胡永成", "郭小燕", "何建平", "牛继红", "苟满仓", "魏宏",
)  # fmt: skip


@dataclass(frozen=True)
class PoolText:
    subject: str
    body: str
    office: str
    category: str | None
    terms: str = ""


def _village(rng: random.Random) -> str:
    return f"{rng.choice(_SURNAMES)}家{rng.choice(_PLACES)}村"


def _fill(pattern: str, rng: random.Random) -> str:
    return pattern.format(
        town=rng.choice(TOWNS),
        village=_village(rng),
        n=rng.randint(2, 9999) if "{n}元" in pattern else rng.randint(2, 12),
        year=rng.randint(2019, 2024),
        month=rng.randint(1, 12),
    )


def _weighted(rng: random.Random, choices):
    return rng.choices(choices, weights=[choice[1] for choice in choices])[0]


def build_pool(size: int = POOL_SIZE, rare: int = RARE_POOL_SIZE) -> list[PoolText]:
    """``size`` common texts then ``rare`` rare ones, all distinct, the same on every run."""
    rng = random.Random(SEED)  # noqa: S311  (made-up texts, reproducible)
    texts: dict[tuple[str, str], PoolText] = {}
    while len(texts) < size + rare:
        is_rare = len(texts) >= size
        office, _weight, topics, sentences = _weighted(rng, TOPICS)
        category, _share, subjects = _weighted(rng, CATEGORIES)
        subject = rng.choice(subjects).format(topic=rng.choice(topics))
        chosen = rng.sample(sentences, rng.randint(2, 4))
        if is_rare:
            chosen.insert(rng.randint(0, len(chosen)), rng.choice(RARE_SENTENCES))
        parts = [rng.choice(INTRODUCTIONS), *chosen, rng.choice(CLOSINGS)]
        body = "".join(_fill(part, rng) for part in parts)
        if (subject, body) not in texts:
            texts[subject, body] = PoolText(subject, body, office, category)
    return [
        PoolText(t.subject, t.body, t.office, t.category, search_terms(f"{t.subject}\n{t.body}"))
        for t in texts.values()
    ]


# --- the schema -------------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    """The URL without SQLAlchemy's ``+driver``, for psycopg.connect."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_database(url: str) -> None:
    """Create the database if it does not exist (connecting to ``postgres`` on that server)."""
    parsed = make_url(url)
    try:
        psycopg.connect(libpq_url(url)).close()
        return
    except psycopg.OperationalError as error:
        if "does not exist" not in str(error):
            raise
    admin = libpq_url(parsed.set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as connection:
        name = psycopg.sql.Identifier(parsed.database)
        connection.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(name))


def prepare_schema(url: str) -> None:
    """Drop everything in the database's public schema, migrate, seed the demo notice."""
    ensure_database(url)
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    migrate.upgrade(url)
    database = Database(url)
    try:
        with database.transaction() as session:
            seed_demo(session)
    finally:
        database.dispose()


# --- the load ---------------------------------------------------------------------------------


@dataclass
class LoadStats:
    cases: int
    ratings: int
    seconds: float
    #: Seconds per phase: pool, insert, indexes, vacuum...
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.cases / self.seconds if self.seconds else 0.0


_POOL_TABLE = "bench_text_pool"

#: One half of the cases. Layer by layer: the random draws, then the dates and limits, then the
#: status; every draw is random() under a seed set per half, so a load is reproducible.
_INSERT = """
WITH draws AS (
    SELECT g,
        CASE WHEN random() < %(rare_share)s
             THEN %(common)s + floor(random() * %(rare)s)::int
             ELSE floor(random() * %(common)s)::int END AS pick,
        random() AS r_channel, random() AS r_kind, random() AS r_delay, random() AS r_late,
        random() AS r_close, random() AS r_office, random() AS r_item, random() AS r_triage,
        random() AS r_person, random() AS r_flags, random() AS r_ext, random() AS r_accept,
        random() AS r_late_entry
    FROM generate_series(%(first)s::int, %(last)s::int) AS g
), texts AS (
    SELECT d.*, p.subject, p.body, p.search_terms, p.office_id AS text_office_id,
        p.item_id AS text_item_id, p.category,
        CASE WHEN r_channel < 0.55 THEN 'web' WHEN r_channel < 0.70 THEN 'email'
             WHEN r_channel < 0.74 THEN 'api' WHEN r_channel < 0.89 THEN 'phone'
             WHEN r_channel < 0.96 THEN 'letter' ELSE 'visit' END AS channel,
        -- volume rises linearly over the span: the inverse of its cumulative share
        %(start)s::timestamptz + make_interval(
            secs => %(span)s * (sqrt(1 + 3 * g::float8 / %(count)s) - 1)) AS registered_at
    FROM draws d JOIN bench_text_pool p ON p.idx = d.pick
), dated AS (
    SELECT t.*,
        CASE WHEN channel IN ('phone', 'letter', 'visit')
             THEN registered_at - make_interval(secs => 172800 * r_late_entry)
             ELSE registered_at END AS received_at,
        CASE WHEN category = 'inquiry' THEN 19 ELSE 60 END AS reply_days,
        CASE WHEN category = 'inquiry' THEN 5 ELSE 15 END AS ack_days,
        CASE WHEN r_ext < 0.03 THEN 30 ELSE 0 END AS extension_days,
        CASE WHEN r_kind < 0.015 THEN 'spam' WHEN r_kind < 0.045 THEN 'rejected'
             WHEN r_kind < 0.047 THEN 'forgotten' ELSE 'answered' END AS kind
    FROM texts t
), timed AS (
    SELECT d.*,
        (date_trunc('day', received_at AT TIME ZONE 'Asia/Shanghai')
            + make_interval(days => ack_days, hours => 23, mins => 59, secs => 59))
            AT TIME ZONE 'Asia/Shanghai' AS acknowledge_by,
        (date_trunc('day', received_at AT TIME ZONE 'Asia/Shanghai')
            + make_interval(days => reply_days + extension_days, hours => 23, mins => 59,
                            secs => 59))
            AT TIME ZONE 'Asia/Shanghai' AS reply_due,
        received_at + make_interval(secs => 86400 * CASE
            WHEN kind = 'rejected' THEN 1 + 9 * r_delay
            -- one answer in twenty comes late, the others within the limit
            WHEN r_late < 0.05 THEN reply_days + extension_days + 40 * r_delay
            ELSE 0.3 + (reply_days + extension_days - 6) * power(r_delay, 1.4) END)
            AS answered_at,
        {rated} < %(rating_share)s AS rated,
        {rating_value} >= 0.93 AS unsatisfied
    FROM dated d
), closing AS (
    SELECT t.*,
        answered_at + make_interval(secs => 86400 * 7 * {rating_delay}) AS rated_at,
        -- rated: closed then, or reopened (重办) if unsatisfied, answered again and closed
        -- unrated some weeks later; unrated: closed by the worker RATING_WINDOW_DAYS after
        CASE WHEN rated AND NOT unsatisfied
                 THEN answered_at + make_interval(secs => 86400 * 7 * {rating_delay})
             WHEN rated
                 THEN answered_at + make_interval(secs => 86400 * (7 * {rating_delay}
                                                                   + 30 + 20 * r_close))
             ELSE answered_at + make_interval(secs => 86400 * 15 + 21600 * r_close)
             END AS closes_at
    FROM timed t
), statused AS (
    SELECT c.*,
        CASE WHEN kind = 'spam' THEN 'spam'
             WHEN kind = 'forgotten' OR answered_at > %(now)s
                  OR rated AND unsatisfied AND rated_at <= %(now)s AND closes_at > %(now)s
                 THEN CASE WHEN r_triage < 0.1 THEN 'received' ELSE 'assigned' END
             WHEN kind = 'rejected' THEN 'rejected'
             WHEN closes_at > %(now)s THEN 'replied'
             ELSE 'closed' END AS status
    FROM closing c
)
INSERT INTO "case" (
    id, tracking_number, passcode_hash, channel, notice_id, notice_item_id, category, subject,
    body, search_terms, submitter_name, submitter_phone, submitter_email, submitter_address,
    anonymous, confidential, publish_consent, published, language, status, office_id,
    routing_explanation, received_at, accepted_at, acknowledge_by, reply_due, extension_days,
    extension_reason, first_replied_at, closed_at, close_reason, reopened_count, updated_at,
    reply_token, channel_details)
SELECT g,
    -- a bijection of the id onto 29^8 codes, spelled in the tracking-number alphabet
    {tracking_number},
    %(passcode_hash)s, channel,
    CASE WHEN text_item_id IS NOT NULL AND r_item < 0.7 OR channel IN ('web', 'api')
         THEN %(notice_id)s END,
    CASE WHEN r_item < 0.7 THEN text_item_id END,
    category, subject, body, search_terms,
    CASE WHEN r_person >= 0.2
         THEN (%(names)s::text[])[1 + floor(r_person * 1000)::int %% %(n_names)s] END,
    CASE WHEN r_person >= 0.3
         THEN '1' || (3 + g %% 7)::text || lpad(((g::int8 * 7919) %% 1000000000)::text, 9, '0') END,
    CASE WHEN channel = 'email' OR channel IN ('web', 'api') AND r_person >= 0.6
         THEN 'citizen' || g || '@example.cn' END,
    CASE WHEN channel = 'letter' AND r_person >= 0.2
         THEN '通渭县' || (%(towns)s::text[])[1 + g %% %(n_towns)s] || g %% 97 || '号' END,
    r_person < 0.2, r_flags < 0.04, r_flags >= 0.7, r_flags >= 0.95 AND status = 'closed', 'zh',
    status,
    CASE WHEN status IN ('received', 'spam') THEN NULL
         WHEN status = 'rejected' AND r_office < 0.5 THEN NULL
         WHEN r_office < 0.88 THEN text_office_id
         ELSE (%(office_ids)s::int[])[1 + floor(r_office * 1000)::int %% %(n_offices)s] END,
    CASE WHEN status IN ('received', 'spam') THEN '' ELSE '按留言事项和转办规则确定办理部门' END,
    received_at,
    CASE WHEN status IN ('assigned', 'replied', 'closed')
         THEN least(received_at + make_interval(secs => 86400 * (0.1 + 4 * r_accept)),
                    %(now)s) END,
    acknowledge_by, reply_due, extension_days,
    CASE WHEN extension_days > 0 THEN '情况复杂，需要会同有关单位调查核实' END,
    CASE WHEN status IN ('replied', 'closed', 'rejected')
              OR status = 'assigned' AND rated AND answered_at <= %(now)s THEN answered_at END,
    CASE WHEN status = 'closed' THEN closes_at
         WHEN status = 'rejected' THEN answered_at
         WHEN status = 'spam' THEN received_at + make_interval(secs => 3600 * (1 + 40 * r_delay))
         END,
    CASE status WHEN 'rejected' THEN '不属于本部门职责范围，已告知向有关部门反映'
                WHEN 'spam' THEN '广告信息' END,
    CASE WHEN rated AND unsatisfied AND rated_at <= %(now)s THEN 1 ELSE 0 END,
    CASE status WHEN 'closed' THEN closes_at
                WHEN 'rejected' THEN answered_at
                WHEN 'replied' THEN answered_at
                WHEN 'spam' THEN received_at + make_interval(secs => 3600 * (1 + 40 * r_delay))
                ELSE received_at END,
    md5('reply-token:' || g),
    '{}'::json
FROM statused
"""


def _tracking_number_sql() -> str:
    """The id ``g`` mapped one-to-one onto 29^8 codes (multiplied by a prime modulo 29^8), in
    the tracking-number alphabet and format: XXXX-XXXX."""
    scrambled = f"((g::int8 * {_SCRAMBLE}) %% {29**8})"
    digits = [
        f"substr('{UNAMBIGUOUS}', ({scrambled} / {29**k} %% 29)::int + 1, 1)"
        for k in reversed(range(8))
    ]
    return " || ".join([*digits[:4], "'-'", *digits[4:]])


#: The ratings that the case insert assumed (same draws, from the id): on the day they came.
_RATINGS = """
INSERT INTO rating (case_id, value, comment, created_at)
SELECT g,
    CASE WHEN {rating_value} < 0.75 THEN 'satisfied'
         WHEN {rating_value} < 0.93 THEN 'basically_satisfied' ELSE 'unsatisfied' END,
    CASE WHEN {rating_value} >= 0.93 THEN '问题没有真正解决' ELSE '' END,
    first_replied_at + make_interval(secs => 86400 * 7 * {rating_delay})
FROM (SELECT id AS g, first_replied_at FROM "case"
      WHERE first_replied_at IS NOT NULL AND status <> 'rejected') AS answered
WHERE {rated} < %(rating_share)s
  AND first_replied_at + make_interval(secs => 86400 * 7 * {rating_delay}) <= %(now)s
"""


def _uniform(multiplier: int, modulus: int) -> str:
    """A draw in [0, 1) computed from the id ``g``: the rating insert must find again which
    cases the case insert rated, and when."""
    return f"(((g::int8 * {multiplier}) %% {modulus})::float8 / {modulus})"


_DRAWS = {
    "rated": _uniform(2654435761, 1000003),
    "rating_value": _uniform(40503, 1009),
    "rating_delay": _uniform(7919, 997),
}
_SCRAMBLE = 982451653  # a prime, so coprime with 29^8
_INSERT = _INSERT.replace("{tracking_number}", _tracking_number_sql())
for _name, _sql in _DRAWS.items():
    _INSERT = _INSERT.replace(f"{{{_name}}}", _sql)
    _RATINGS = _RATINGS.replace(f"{{{_name}}}", _sql)


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(libpq_url(url))


def _copy_pool(url: str, pool: list[PoolText], offices: dict[str, int], items: dict) -> None:
    with _connect(url) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {_POOL_TABLE}")
        connection.execute(
            f"CREATE UNLOGGED TABLE {_POOL_TABLE} (idx int PRIMARY KEY, subject text, body text,"
            " search_terms text, office_id int, item_id int, category text)"
        )
        with connection.cursor().copy(
            f"COPY {_POOL_TABLE} (idx, subject, body, search_terms, office_id, item_id, category)"
            " FROM STDIN"
        ) as copy:
            for index, text in enumerate(pool):
                candidates = items.get(text.office) or [None]
                item = candidates[index % len(candidates)]
                office = offices[text.office]
                copy.write_row(
                    (index, text.subject, text.body, text.terms, office, item, text.category)
                )
        connection.execute(f"ANALYZE {_POOL_TABLE}")


def _secondary_indexes(connection: psycopg.Connection) -> tuple[list, list]:
    """The case table's indexes and unique constraints other than its primary key (which other
    tables' foreign keys need), as (name, create statement) pairs."""
    indexes = connection.execute(
        """SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x
           JOIN pg_class i ON i.oid = x.indexrelid
           WHERE x.indrelid = '"case"'::regclass
             AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = x.indexrelid)"""
    ).fetchall()
    constraints = connection.execute(
        """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
           WHERE conrelid = '"case"'::regclass AND contype = 'u'"""
    ).fetchall()
    return (
        [(name, definition) for name, definition in indexes],
        [
            (name, f'ALTER TABLE "case" ADD CONSTRAINT {name} {definition}')
            for name, definition in constraints
        ],
    )


def _in_parallel(*jobs) -> None:
    """Run each job (a callable) on its own thread; re-raise the first failure."""
    failures: list[BaseException] = []

    def run(job) -> None:
        try:
            job()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def _run_statements(url: str, statements: list[str], maintenance_work_mem: str) -> None:
    with _connect(url) as connection:
        connection.execute(f"SET maintenance_work_mem = '{maintenance_work_mem}'")
        for statement in statements:
            connection.execute(statement)
            connection.commit()


def load_cases(
    url: str,
    count: int,
    *,
    now: datetime | None = None,
    ratings: float = 0.35,
    pool_size: int = POOL_SIZE,
    log=print,
) -> LoadStats:
    """Insert ``count`` cases (ids 1…count) into the migrated, seeded, case-less database at
    ``url`` (see :func:`prepare_schema`), and ratings for that share of the answered ones."""
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    phases: dict[str, float] = {}
    database = Database(url)
    try:
        with database.session() as session:
            notice_id = session.scalar(select(Notice.id).where(Notice.slug == NOTICE_SLUG))
            offices = {code: id_ for code, id_ in session.execute(select(Office.code, Office.id))}
            items: dict[str, list[int]] = {}
            for office_code, item_id in session.execute(
                select(Office.code, NoticeItem.id)
                .join(NoticeItem, NoticeItem.default_office_id == Office.id)
                .order_by(NoticeItem.position)
            ):
                items.setdefault(office_code, []).append(item_id)
    finally:
        database.dispose()
    missing = {code for code, _name, _levels in DEMO_OFFICES} - set(offices)
    if missing or notice_id is None:
        raise RuntimeError("the database has no demo notice and offices: call prepare_schema()")

    mark = time.perf_counter()
    pool = build_pool(pool_size)
    _copy_pool(url, pool, offices, items)
    phases["text pool"] = time.perf_counter() - mark

    # The B-trees and unique constraints are dropped and built again after the insert, by
    # sorting, which is much faster than a million index insertions. The GIN search index is
    # kept: its cost is to_tsvector() on every row, which the two inserting connections then
    # share (a CREATE INDEX of GIN runs on one core); its pending list absorbs the entries.
    with _connect(url) as connection:
        indexes, constraints = _secondary_indexes(connection)
        btrees = [(name, sql) for name, sql in indexes if " USING gin " not in sql]
        gins = [name for name, sql in indexes if " USING gin " in sql]
        for name, _definition in constraints:
            connection.execute(f'ALTER TABLE "case" DROP CONSTRAINT {name}')
        for name, _definition in btrees:
            connection.execute(f"DROP INDEX {name}")

    parameters = {
        "rare_share": RARE_SHARE,
        "common": pool_size,
        "rare": len(pool) - pool_size,
        "count": count,
        "start": now - timedelta(days=SPAN_DAYS, minutes=1),
        "span": SPAN_DAYS * 86400.0,
        "now": now,
        "passcode_hash": "$argon2id$v=19$m=65536,t=3,p=4$YmVuY2htYXJr$bm90IGEgcmVhbCBoYXNo",
        "notice_id": notice_id,
        "names": list(NAMES),
        "towns": list(TOWNS),
        "n_towns": len(TOWNS),
        "n_names": len(NAMES),
        "office_ids": sorted(offices.values()),
        "n_offices": len(offices),
        "rating_share": ratings,
    }

    def insert_half(first: int, last: int, seed: float) -> None:
        with _connect(url) as connection:
            connection.execute("SET LOCAL session_replication_role = replica")  # no FK triggers
            connection.execute("SET LOCAL jit = off")  # seconds of compiling, for nothing here
            connection.execute("SET LOCAL gin_pending_list_limit = '256MB'")
            connection.execute("SELECT setseed(%s)", (seed,))
            connection.execute(_INSERT, {**parameters, "first": first, "last": last})

    mark = time.perf_counter()
    middle = count // 2
    halves = [(1, middle, 0.25), (middle + 1, count, 0.75)] if count > 1000 else [(1, count, 0.5)]
    _in_parallel(*(lambda h=half: insert_half(*h) for half in halves))
    with _connect(url) as connection:
        connection.execute(
            "SELECT setval(pg_get_serial_sequence('\"case\"', 'id'), %s)", (max(count, 1),)
        )
        connection.execute(f"DROP TABLE {_POOL_TABLE}")
    phases["insert cases"] = time.perf_counter() - mark
    log(f"  inserted {count:,} cases in {phases['insert cases']:.1f} s")

    mark = time.perf_counter()
    _in_parallel(
        lambda: _run_statements(
            url, [f"SELECT gin_clean_pending_list('{name}')" for name in gins], "1GB"
        ),
        lambda: _run_statements(url, [sql for _name, sql in constraints + btrees], "512MB"),
    )
    phases["indexes"] = time.perf_counter() - mark
    log(f"  built {len(btrees) + len(constraints)} B-trees in {phases['indexes']:.1f} s")

    mark = time.perf_counter()
    rated = 0
    if ratings:
        with _connect(url) as connection:
            connection.execute("SET LOCAL session_replication_role = replica")
            rated = connection.execute(_RATINGS, {"now": now, "rating_share": ratings}).rowcount
        phases["ratings"] = time.perf_counter() - mark
        mark = time.perf_counter()

    with _connect(url) as connection:
        connection.autocommit = True
        connection.execute("SET maintenance_work_mem = '512MB'")
        connection.execute('VACUUM (ANALYZE) "case"')
        connection.execute("VACUUM (ANALYZE) rating")
    phases["vacuum, analyze"] = time.perf_counter() - mark
    return LoadStats(count, rated, time.perf_counter() - started, phases)

"""A million realistic cases in PostgreSQL, quickly: the data set of the benchmarks that need
volume (the queue's latency, the monthly report).

    from benchmarks.million_cases import load_cases, prepare_schema
    prepare_schema(url)           # an empty, migrated database with the demo notice and offices
    stats = load_cases(url, 1_000_000)

What is loaded, as two years of a county propaganda department's public feedback:

- ``received_at`` over the 24 Asia/Shanghai calendar months ending with last month, and the
  current month up to now (about 40,000 cases a month at a million): a gentle rise over the
  two years, last month busier (x1.45, the month the report benchmark measures), fewer
  comments at the weekend, between 06:00 and 23:00; ids grow with time, as they do in
  production, except that calls, letters and visits are registered up to two days after
  they were received;
- texts from a pool of a few thousand distinct subjects and bodies (finance, online opinion,
  theory study, civilisation practice, the media centre...) with ``search_terms`` computed by
  :func:`shared.search.search_terms` once per distinct text; the common words (财务, 舆情,
  融媒体...) match tens of thousands of cases each, the rare ones (皮影, 谣言) a few dozen;
- duplicates and campaigns: 1.5% of the cases repeat the text of a case received a few hours
  before (``duplicate_of``, and both in a ``duplicate`` cluster); a third of the two-day
  windows hold a campaign, 3% of their cases with one same text (a ``campaign`` cluster);
  the ``case_cluster`` rows are labelled as :mod:`shared.operations.duplicates` labels them;
- the demo notice's 8 offices, weighted, the office following the text's topic (12% sent
  elsewhere), its notice items, categories (inquiries with the demo's short deadlines) and
  channels; cases still in triage have no office;
- a reply delay per case: cases whose answer would lie in the future are still open (about
  3% of all, nearly all recent; a tenth of them in triage, without an office, the others
  assigned), one answer in twenty comes after the deadline, and a few cases were forgotten
  and are open and overdue; 2% are rejected, 3% spam. ``accepted_at``, ``acknowledge_by``,
  ``reply_due`` (end of the Asia/Shanghai day; calendar days, no holidays; inquiries get the
  demo's short limits), ``first_replied_at``, ``closed_at`` and ``updated_at`` agree with
  ``received_at`` and with now; 3% of the handled cases got an extension of 10 to 30 days
  (granted: ``extension_approved_by`` set, counted in ``reply_due``);
- ``ratings`` (a share, default 0.35) of the answered cases are rated within a week of the
  answer and closed then; the unsatisfied ones (7%) are reopened (``reopened_count``, a new
  ``reply_due`` three weeks on) and closed some weeks later; the others are closed by the
  worker 15 days after the answer (``tracking.RATING_WINDOW_DAYS``), so "replied" is the last
  fortnight's answers. The rating rows are inserted too, dated when they came;
- the replies sent (state ``sent``): the answer or refusal of every answered case, a second
  answer of each case reopened and closed since, the notice of each extension;
- audit events as the operations write them: ``case.extension_requested`` and
  ``case.extension_approved`` (by two staff users, ``bench-officer`` and ``bench-reviewer``),
  ``case.reopened``, ``case.marked_duplicate`` and ``case.clustered``.

Not loaded: messages, reviews, other audit events, fingerprints.

The rows are generated inside PostgreSQL (INSERT … SELECT over generate_series, joined to the
text pool that is COPYed in first) in two halves on two connections, with foreign-key triggers
off (the rows are consistent by construction). The draws that another row must find again
(which text a duplicate repeats, who is in a campaign, which cases were rated) are hashes of
the id; the others are random() under a seed per half, so a load is reproducible. The case
table's B-trees and unique constraints are dropped first and built again afterwards by
sorting; the GIN search index is kept, so that its cost, to_tsvector() of every row (some
150 µs of CPU each) and the GIN entries, is shared by the two inserting connections (CREATE
INDEX of a GIN index runs on one core). That index is most of the load time. Then VACUUM
(ANALYZE), which sets the visibility map as autovacuum would, for index-only scans.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import make_url, select

from shared import migrate
from shared.db import Database
from shared.demo.seed import DEMO_OFFICES, NOTICE_SLUG, seed_demo
from shared.models import Notice, NoticeItem, Office, Role, StaffUser
from shared.operations.staff import create_staff
from shared.search import search_terms
from shared.security import UNAMBIGUOUS

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/minyi_bench"
SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Full calendar months loaded before the current one (which is loaded up to now).
MONTHS = 24
#: Weight of last month against the trend: the month the report benchmark measures is busy.
LAST_MONTH_WEIGHT = 1.45
#: Weight of a day by weekday, Monday first: fewer comments at the weekend.
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.95, 0.55, 0.45)
SPAM_SHARE = 0.03
REJECTED_SHARE = 0.02
#: Cases that repeat the text of one received a few hours before (duplicate_of).
DUPLICATE_SHARE = 0.015
#: Share of the two-day windows with a campaign, and of their cases that join it.
CAMPAIGN_WINDOWS = 0.35
CAMPAIGN_SHARE = 0.03
#: Handled cases whose answer deadline was extended (granted).
EXTENSION_SHARE = 0.033
#: Staff users who asked for and granted the extensions, marked duplicates.
BENCH_OFFICER = "bench-officer"
BENCH_REVIEWER = "bench-reviewer"
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

#: One half of the cases. Layer by layer: who repeats whom, the random draws, then the dates
#: and limits, then the status. The draws another row must find again are hashes of the id
#: (:func:`_hashed`); the others are random() under a seed set per half, so a load is reproducible.
_INSERT = """
WITH ids AS (
    SELECT g, {in_campaign_g} AS in_campaign,
        {duplicate_candidate_g} AS duplicate_candidate,
        g - 1 - floor({source_draw} * 400)::int8 AS source
    FROM generate_series(%(first)s::int8, %(last)s::int8) AS g
), roles AS (
    SELECT g, in_campaign,
        CASE WHEN duplicate_candidate AND NOT in_campaign AND source >= 1
                  AND {plain_source} THEN source END AS duplicate_of
    FROM ids
), draws AS (
    SELECT g, duplicate_of,
        CASE WHEN in_campaign THEN {campaign_pick_g}
             WHEN duplicate_of IS NOT NULL THEN {base_pick_duplicate_of}
             ELSE {base_pick_g} END AS pick,
        CASE WHEN in_campaign THEN %(count)s + 1 + g / %(block)s
             WHEN duplicate_of IS NOT NULL THEN duplicate_of END AS cluster_id,
        random() AS r_channel, random() AS r_kind, random() AS r_delay, random() AS r_late,
        random() AS r_close, random() AS r_office, random() AS r_item, random() AS r_triage,
        random() AS r_person, random() AS r_flags, random() AS r_ext, random() AS r_accept,
        random() AS r_late_entry
    FROM roles
), bucketed AS (
    SELECT d.*, width_bucket(g, %(firsts)s::int8[]) AS day FROM draws d
), texts AS (
    SELECT d.*, p.subject, p.body, p.search_terms, p.office_id AS text_office_id,
        p.item_id AS text_item_id, p.category,
        CASE WHEN r_channel < 0.55 THEN 'web' WHEN r_channel < 0.70 THEN 'email'
             WHEN r_channel < 0.74 THEN 'api' WHEN r_channel < 0.89 THEN 'phone'
             WHEN r_channel < 0.96 THEN 'letter' ELSE 'visit' END AS channel,
        -- the day's ids spread evenly over its hours
        (%(starts)s::timestamptz[])[day] + make_interval(secs => (%(spans)s::float8[])[day]
            * (g - (%(firsts)s::int8[])[day] + 0.5)
            / ((%(ends)s::int8[])[day] - (%(firsts)s::int8[])[day])) AS registered_at
    FROM bucketed d JOIN bench_text_pool p ON p.idx = d.pick
), dated AS (
    SELECT t.*,
        CASE WHEN channel IN ('phone', 'letter', 'visit')
             THEN registered_at - make_interval(secs => 172800 * r_late_entry)
             ELSE registered_at END AS received_at,
        CASE WHEN category = 'inquiry' THEN 19 ELSE 60 END AS reply_days,
        CASE WHEN category = 'inquiry' THEN 5 ELSE 15 END AS ack_days,
        -- granted extensions of cases being handled (none in triage)
        CASE WHEN r_ext < %(extension_share)s AND r_kind >= %(rejected_until)s
                  AND r_triage >= 0.1
             THEN 10 + floor(r_ext / %(extension_share)s * 21)::int ELSE 0 END
            AS extension_days,
        CASE WHEN r_kind < %(spam_share)s THEN 'spam'
             WHEN r_kind < %(rejected_until)s THEN 'rejected'
             WHEN r_kind < %(rejected_until)s + 0.002 THEN 'forgotten'
             ELSE 'answered' END AS kind
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
    extension_reason, extension_approved_by_id, first_replied_at, closed_at, close_reason,
    reopened_count, updated_at, duplicate_of_id, cluster_id, reply_token, channel_details)
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
    acknowledge_by,
    -- reopened (重办): a new deadline, three weeks after the unsatisfied rating
    CASE WHEN rated AND unsatisfied AND rated_at <= %(now)s
         THEN (date_trunc('day', rated_at AT TIME ZONE 'Asia/Shanghai')
               + make_interval(days => 21, hours => 23, mins => 59, secs => 59))
              AT TIME ZONE 'Asia/Shanghai'
         ELSE reply_due END,
    extension_days,
    CASE WHEN extension_days > 0 THEN '情况复杂，需要会同有关单位调查核实' END,
    CASE WHEN extension_days > 0 THEN %(reviewer_id)s::int END,
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
    duplicate_of, cluster_id,
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


def _hashed(expression: str, seed: int) -> str:
    """A draw in [0, 1) that is a hash of the id ``expression``: another row can compute it
    again (which text a duplicate repeats). 52 bits of PostgreSQL's own 64-bit hash."""
    return (
        f"((hashint8extended(({expression})::int8, {seed}) & 4503599627370495)::float8"
        " / 4503599627370496)"
    )


def _in_campaign(case_id: str) -> str:
    """The case is one of a campaign: its two-day window of ids (``block``) has one."""
    window = f"({case_id}) / %(block)s"
    return (
        f"({_hashed(case_id, 4)} < {CAMPAIGN_SHARE} AND {_hashed(window, 5)} < {CAMPAIGN_WINDOWS})"
    )


def _duplicate_candidate(case_id: str) -> str:
    return f"({_hashed(case_id, 7)} < {DUPLICATE_SHARE})"


def _base_pick(case_id: str) -> str:
    """The text of a case that repeats nothing: a common one, or now and then a rare one."""
    return (
        f"CASE WHEN {_hashed(case_id, 1)} < %(rare_share)s"
        f" THEN %(common)s + floor({_hashed(case_id, 2)} * %(rare)s)::int"
        f" ELSE floor({_hashed(case_id, 3)} * %(common)s)::int END"
    )


_DRAWS = {
    "rated": _uniform(2654435761, 1000003),
    "rating_value": _uniform(40503, 1009),
    "rating_delay": _uniform(7919, 997),
}
_SCRAMBLE = 982451653  # a prime, so coprime with 29^8
_INSERT = _INSERT.replace("{tracking_number}", _tracking_number_sql())
_ROLES = {
    "in_campaign_g": _in_campaign("g"),
    "duplicate_candidate_g": _duplicate_candidate("g"),
    "source_draw": _hashed("g", 8),
    # the case repeated is itself neither a duplicate nor in a campaign: no chains
    "plain_source": f"NOT {_in_campaign('source')} AND NOT {_duplicate_candidate('source')}",
    "campaign_pick_g": f"floor({_hashed('g / %(block)s', 6)} * %(common)s)::int",
    "base_pick_duplicate_of": _base_pick("duplicate_of"),
    "base_pick_g": _base_pick("g"),
}
for _name, _sql in _ROLES.items():
    _INSERT = _INSERT.replace(f"{{{_name}}}", _sql)
for _name, _sql in _DRAWS.items():
    _INSERT = _INSERT.replace(f"{{{_name}}}", _sql)
    _RATINGS = _RATINGS.replace(f"{{{_name}}}", _sql)


#: The cases that others repeat join their duplicates' cluster (numbered by the original's id).
_ORIGINALS = """
UPDATE "case" SET cluster_id = id
WHERE id IN (SELECT duplicate_of_id FROM "case" WHERE duplicate_of_id IS NOT NULL)
"""

#: One cluster row per cluster, labelled with its first case as duplicates._label does.
_CLUSTERS = """
INSERT INTO case_cluster (id, kind, label, created_at)
SELECT cluster_id, CASE WHEN cluster_id > %(count)s THEN 'campaign' ELSE 'duplicate' END,
    CASE WHEN char_length(label) > 30 THEN left(label, 30) || '…' ELSE label END, created_at
FROM (SELECT cluster_id, min(received_at) AS created_at,
          (array_agg(coalesce(nullif(subject, ''), body) ORDER BY id))[1] AS label
      FROM "case" WHERE cluster_id IS NOT NULL GROUP BY cluster_id) AS clusters
"""

#: The audit events of the steps the case rows tell of, oldest first, as the operations write
#: them (deadlines.request_extension / approve_extension, tracking._reopen,
#: cases.mark_duplicate, duplicates.cluster_near_duplicates).
_AUDIT = """
WITH extended AS (
    SELECT id, extension_days, reply_due, requested,
        requested + least(interval '1 day', (settled - requested) / 2) AS approved
    FROM (SELECT id, extension_days, reply_due, received_at,
              least(coalesce(first_replied_at, %(now)s), %(now)s) AS settled
          FROM "case" WHERE extension_days > 0) AS cases,
    LATERAL (SELECT greatest(received_at, least(
        received_at + (settled - received_at) / 2,
        reply_due - make_interval(days => extension_days + 2))) AS requested) AS asked
)
INSERT INTO audit_event (at, actor_id, actor_kind, action, case_id, detail)
SELECT * FROM (
    SELECT requested, %(officer_id)s::int, 'staff', 'case.extension_requested', id,
        json_build_object('days', extension_days)
    FROM extended
    UNION ALL
    SELECT approved, %(reviewer_id)s::int, 'staff', 'case.extension_approved', id,
        json_build_object('days', extension_days, 'working_days', false,
            'previous_due', reply_due - make_interval(days => extension_days),
            'reply_due', reply_due)
    FROM extended
    UNION ALL
    SELECT r.created_at, NULL, 'citizen', 'case.reopened', r.case_id,
        json_build_object('count', c.reopened_count)
    FROM rating r JOIN "case" c ON c.id = r.case_id
    WHERE r.value = 'unsatisfied' AND c.reopened_count > 0
    UNION ALL
    SELECT least(coalesce(c.accepted_at, c.received_at) + interval '2 hours', %(now)s),
        %(officer_id)s::int, 'staff', 'case.marked_duplicate', c.id,
        json_build_object('original', o.tracking_number)
    FROM "case" c JOIN "case" o ON o.id = c.duplicate_of_id
    UNION ALL
    SELECT received_at, NULL, 'system', 'case.clustered', id,
        json_build_object('cluster_id', cluster_id, 'similarity', 1.0)
    FROM "case" WHERE cluster_id > %(count)s
) AS events (at, actor_id, actor_kind, action, case_id, detail)
ORDER BY at
"""


#: The replies sent, as the review chain leaves them (sent, one level approved), oldest first:
#: the answer (or refusal) of every answered case, the second answer of a case reopened and
#: closed since, and the notice of each extension. Four answer texts of a realistic length.
_REPLIES = """
INSERT INTO reply (case_id, author_id, kind, body, public_body, public, whole_cluster, state,
                   levels_required, levels_approved, created_at, sent_at)
SELECT case_id, %(officer_id)s::int, kind, body, body, true, false, 'sent', 1, 1,
    sent_at - interval '20 hours', sent_at
FROM (
    SELECT id AS case_id, CASE WHEN status = 'rejected' THEN 'refusal' ELSE 'answer' END AS kind,
        first_replied_at AS sent_at,
        CASE WHEN status = 'rejected' THEN %(refusal)s
             ELSE (%(answers)s::text[])[1 + id %% 4] END AS body
    FROM "case" WHERE first_replied_at IS NOT NULL
    UNION ALL
    SELECT id, 'answer', closed_at - interval '3 days', %(second_answer)s
    FROM "case" WHERE reopened_count > 0 AND status = 'closed'
    UNION ALL
    SELECT case_id, 'extension', at, %(extension_notice)s
    FROM audit_event WHERE action = 'case.extension_approved'
) AS sent
ORDER BY sent_at
"""
_ANSWERS = (
    "您好！您反映的问题已收悉。经我部认真核实，相关情况如下：该事项已纳入巡察整改台账，由责任股室"
    "牵头办理，目前已完成整改并建立长效机制。我们将持续跟踪落实情况，欢迎您继续监督。感谢您对宣传"
    "思想文化工作的关心和支持！",
    "您好！感谢您提出的宝贵建议。我部已将您的建议转交相关股室研究，部分内容已在今年的工作计划中"
    "予以采纳，具体进展将在县委宣传部网站整改专栏中公开。如有其他意见，欢迎通过留言平台反映。",
    "您好！关于您咨询的事项，现答复如下：相关资金已按程序拨付到位，支出明细已在村务公开栏和网站"
    "同步公示，您可以登录查询。如对答复有疑问，请在十五日内通过本平台提出。",
    "您好！您反映的问题我们高度重视，已责成有关单位调查核实。经查，情况基本属实，相关责任人已受到"
    "批评教育，有关单位已完成整改并向群众作出说明。感谢您的监督！",
)
_SECOND_ANSWER = (
    "您好！针对您对前次答复的意见，我部重新组织了调查核实，并约谈了相关责任单位。现再次答复如下："
    "相关问题已全部整改到位，整改结果已在网站公开。给您带来的不便，敬请谅解。"
)
_REFUSAL = "您好！经审查，您反映的事项不属于本部门职责范围，请向有关部门反映。感谢您的理解和支持。"
_EXTENSION_NOTICE = (
    "您好！您反映的事项情况较为复杂，需要会同有关单位调查核实，经批准，办理期限延长，我们将在延长期限内"
    "给您答复。"
)


def load_replies(url: str, officer_id: int) -> int:
    """The sent replies of the loaded cases (see ``_REPLIES``); after the audit events."""
    with _connect(url) as connection:
        connection.execute("SET LOCAL session_replication_role = replica")
        connection.execute("SET LOCAL work_mem = '256MB'")
        return connection.execute(
            _REPLIES,
            {
                "officer_id": officer_id,
                "answers": list(_ANSWERS),
                "second_answer": _SECOND_ANSWER,
                "refusal": _REFUSAL,
                "extension_notice": _EXTENSION_NOTICE,
            },
        ).rowcount


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Days:
    """The ids of each day: ``firsts[i]`` to ``ends[i] - 1`` were received from ``starts[i]``
    over ``spans[i]`` seconds."""

    firsts: list[int]
    ends: list[int]
    starts: list[datetime]
    spans: list[float]


def spread_over_days(count: int, now: datetime) -> Days:
    """``count`` ids over the days of the MONTHS months before the current one and of the
    current month up to ``now`` (Asia/Shanghai): a gentle rise, last month busier, quieter
    weekends; 06:00 to 23:00 on full days."""
    local_now = now.astimezone(SHANGHAI)
    this_month = local_now.date().replace(day=1)
    first_month = _add_months(this_month, -MONTHS)
    rows: list[tuple[datetime, float, float]] = []  # (start, seconds, weight)
    day = first_month
    while day <= local_now.date():
        midnight = datetime.combine(day, clock_time(), SHANGHAI)
        month = (day.year - first_month.year) * 12 + day.month - first_month.month
        if month == MONTHS - 1:
            weight = LAST_MONTH_WEIGHT
        elif month == MONTHS:
            weight = 1.15
        else:
            weight = 0.85 + 0.25 * month / (MONTHS - 2)
        weight *= WEEKDAY_WEIGHTS[day.weekday()]
        if day == local_now.date():
            seconds = max((local_now - midnight).total_seconds() - 60, 1.0)
            rows.append((midnight, seconds, weight * seconds / 86400))
        else:
            rows.append((midnight + timedelta(hours=6), 17 * 3600.0, weight))
        day += timedelta(days=1)
    total = sum(weight for _start, _seconds, weight in rows)
    firsts, cumulative = [], 0.0
    for _start, _seconds, weight in rows:
        firsts.append(1 + round(cumulative / total * count))
        cumulative += weight
    return Days(
        firsts=firsts,
        ends=[*firsts[1:], count + 1],
        starts=[start.astimezone(UTC) for start, _seconds, _weight in rows],
        spans=[seconds for _start, seconds, _weight in rows],
    )


def ensure_bench_staff(database: Database, office_codes: list[str]) -> tuple[int, int]:
    """The ids of the officer (of every office) and the reviewer named in the audit events."""
    ids = []
    with database.transaction() as session:
        for username, role in ((BENCH_OFFICER, Role.OFFICER), (BENCH_REVIEWER, Role.REVIEWER)):
            user_id = session.scalar(select(StaffUser.id).where(StaffUser.username == username))
            if user_id is None:
                user = create_staff(session, username, role, "benchmark-pw-1", office_codes)
                user_id = user.id
            ids.append(user_id)
    return ids[0], ids[1]


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
    database = Database(url)
    try:
        officer_id, reviewer_id = ensure_bench_staff(database, sorted(offices))
    finally:
        database.dispose()
    days = spread_over_days(count, now)

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
        "firsts": days.firsts,
        "ends": days.ends,
        "starts": days.starts,
        "spans": days.spans,
        # ids in two days: the window of a campaign
        "block": max(10, count * 2 // len(days.firsts)),
        "spam_share": SPAM_SHARE,
        "rejected_until": SPAM_SHARE + REJECTED_SHARE,
        "extension_share": EXTENSION_SHARE,
        "officer_id": officer_id,
        "reviewer_id": reviewer_id,
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
        connection.execute("SET LOCAL session_replication_role = replica")
        connection.execute(_ORIGINALS)
        clusters = connection.execute(_CLUSTERS, {"count": count}).rowcount
        connection.execute(
            "SELECT setval(pg_get_serial_sequence('case_cluster', 'id'),"
            " (SELECT coalesce(max(id), 0) + 1 FROM case_cluster), false)"
        )
    phases["insert cases"] = time.perf_counter() - mark
    log(f"  inserted {count:,} cases, {clusters:,} clusters in {phases['insert cases']:.1f} s")

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
        log(f"  inserted {rated:,} ratings in {phases['ratings']:.1f} s")
        mark = time.perf_counter()

    with _connect(url) as connection:
        connection.execute("SET LOCAL session_replication_role = replica")
        connection.execute("SET LOCAL TIME ZONE 'UTC'")  # ISO dates in the details, as Python's
        events = connection.execute(
            _AUDIT,
            {"now": now, "count": count, "officer_id": officer_id, "reviewer_id": reviewer_id},
        ).rowcount
    phases["audit events"] = time.perf_counter() - mark
    log(f"  inserted {events:,} audit events in {phases['audit events']:.1f} s")
    mark = time.perf_counter()
    replies = load_replies(url, officer_id)
    phases["replies"] = time.perf_counter() - mark
    log(f"  inserted {replies:,} replies in {phases['replies']:.1f} s")
    mark = time.perf_counter()

    with _connect(url) as connection:
        connection.autocommit = True
        connection.execute("SET maintenance_work_mem = '512MB'")
        connection.execute('VACUUM (ANALYZE) "case"')
        for table in ("rating", "audit_event", "case_cluster", "reply"):
            connection.execute(f"VACUUM (ANALYZE) {table}")
    phases["vacuum, analyze"] = time.perf_counter() - mark
    took = time.perf_counter() - started
    log(f"  vacuum, analyze in {phases['vacuum, analyze']:.1f} s; loaded in {took:.1f} s")
    return LoadStats(count, rated, took, phases)

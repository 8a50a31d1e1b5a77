"""The Chinese vocabulary the demo catalog is assembled from.

Kept apart from the assembly so the wording can be improved without touching
the logic. Every list is a tuple: its order is part of what makes the catalog
the same on every run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Destination:
    """A place people book homestays in, with what guests come there for."""

    city: str
    areas: tuple[str, ...]
    views: tuple[str, ...]
    styles: tuple[str, ...]  # local building styles, next to the generic ones
    foods: tuple[str, ...]
    activities: tuple[str, ...]


DESTINATIONS: tuple[Destination, ...] = (
    Destination(
        city="大理",
        areas=("大理古城", "洱海西岸", "双廊", "喜洲古镇", "才村码头"),
        views=("洱海", "苍山", "古城夜景", "喜洲稻田"),
        styles=("白族院落", "扎染文艺"),
        foods=("乳扇", "喜洲粑粑", "白族三道茶", "酸辣鱼"),
        activities=("环洱海骑行", "苍山徒步", "扎染体验"),
    ),
    Destination(
        city="丽江",
        areas=("丽江古城", "束河古镇", "白沙古镇", "玉湖村"),
        views=("玉龙雪山", "古城屋顶", "拉市海"),
        styles=("纳西古院", "雪山木屋"),
        foods=("丽江粑粑", "鸡豆凉粉", "腊排骨火锅"),
        activities=("玉龙雪山一日游", "纳西古乐晚会", "拉市海骑马"),
    ),
    Destination(
        city="厦门",
        areas=("鼓浪屿", "曾厝垵", "环岛路", "沙坡尾"),
        views=("大海", "日光岩", "鹭江夜景"),
        styles=("闽南红砖", "南洋老别墅"),
        foods=("沙茶面", "海蛎煎", "花生汤", "土笋冻"),
        activities=("环岛路骑行", "鼓浪屿老建筑导览", "出海看日出"),
    ),
    Destination(
        city="莫干山",
        areas=("莫干山", "劳岭村", "仙潭村", "庾村"),
        views=("竹海", "山谷", "云海"),
        styles=("山野竹屋", "夯土老房"),
        foods=("农家土鸡煲", "笋干烧肉", "莫干黄芽"),
        activities=("竹林徒步", "采茶体验", "山地骑行"),
    ),
    Destination(
        city="阳朔",
        areas=("西街", "遇龙河畔", "十里画廊", "兴坪古镇"),
        views=("漓江", "喀斯特群山", "遇龙河"),
        styles=("桂北木楼", "喀斯特石屋"),
        foods=("啤酒鱼", "桂林米粉", "田螺酿"),
        activities=("遇龙河竹筏", "漓江徒步", "攀岩体验"),
    ),
    Destination(
        city="黄山",
        areas=("宏村", "西递", "屏山村", "黄山南大门"),
        views=("马头墙", "南湖", "黄山云海"),
        styles=("徽派老宅", "天井院落"),
        foods=("臭鳜鱼", "毛豆腐", "黄山烧饼"),
        activities=("写生采风", "黄山日出", "徽州古村导览"),
    ),
    Destination(
        city="西双版纳",
        areas=("告庄西双景", "曼听", "勐海", "橄榄坝"),
        views=("热带雨林", "澜沧江", "星光夜市"),
        styles=("傣家竹楼", "东南亚风"),
        foods=("菠萝饭", "傣味烧烤", "柠檬撒"),
        activities=("雨林徒步", "普洱茶山探访", "泼水节体验"),
    ),
    Destination(
        city="三亚",
        areas=("亚龙湾", "海棠湾", "后海村", "大东海"),
        views=("南海", "椰林", "海上日落"),
        styles=("海岛度假风", "白色地中海风"),
        foods=("椰子鸡", "海南粉", "清补凉"),
        activities=("冲浪课", "潜水", "出海海钓"),
    ),
    Destination(
        city="苏州",
        areas=("平江路", "周庄古镇", "同里古镇", "东山"),
        views=("小桥流水", "太湖", "园林"),
        styles=("苏式园林", "江南水乡"),
        foods=("苏式汤面", "酱汁肉", "碧螺春"),
        activities=("评弹听曲", "古镇摇橹船", "太湖骑行"),
    ),
    Destination(
        city="成都",
        areas=("青城山", "宽窄巷子", "玉林路", "街子古镇"),
        views=("青城后山", "川西林盘", "竹林"),
        styles=("川西林盘", "青砖小院"),
        foods=("担担面", "钟水饺", "老成都火锅"),
        activities=("熊猫基地早场", "青城山徒步", "川剧变脸"),
    ),
    Destination(
        city="婺源",
        areas=("篁岭", "江湾", "思溪延村", "晓起"),
        views=("油菜花田", "梯田", "徽派古村"),
        styles=("徽派老宅", "古村木屋"),
        foods=("粉蒸肉", "荷包红鲤鱼", "清明果"),
        activities=("篁岭晒秋", "古村摄影", "茶园徒步"),
    ),
    Destination(
        city="北京",
        areas=("古北水镇", "司马台", "延庆", "怀柔慕田峪"),
        views=("长城", "燕山", "满天星空"),
        styles=("北方四合院", "山居石屋"),
        foods=("铁锅炖", "虹鳟鱼", "农家柴鸡蛋"),
        activities=("野长城徒步", "星空观测", "板栗采摘"),
    ),
    Destination(
        city="青岛",
        areas=("八大关", "崂山", "小麦岛", "金沙滩"),
        views=("海景", "红瓦绿树", "崂山"),
        styles=("德式老洋房", "海边渔屋"),
        foods=("鲅鱼水饺", "辣炒蛤蜊", "青岛原浆啤酒"),
        activities=("赶海", "崂山徒步", "帆船体验"),
    ),
)


@dataclass(frozen=True)
class RoomKind:
    """A kind of room and what it sells for (yuan per night, or per person per night)."""

    name: str
    people: tuple[int, int]
    price_yuan: tuple[int, int]  # both ends end in 8, as listed prices usually do
    weight: int  # how common the kind is
    per_person: bool = False


ROOM_KINDS: tuple[RoomKind, ...] = (
    RoomKind("大床房", (2, 2), (198, 588), 14),
    RoomKind("双床房", (2, 2), (198, 528), 10),
    RoomKind("观景套房", (2, 3), (468, 988), 8),
    RoomKind("亲子家庭房", (3, 4), (388, 888), 9),
    RoomKind("Loft复式", (2, 4), (428, 958), 6),
    RoomKind("榻榻米房", (2, 3), (228, 498), 6),
    RoomKind("星空玻璃房", (2, 2), (528, 1088), 4),
    RoomKind("整栋小院", (6, 10), (888, 1288), 4),
    RoomKind("独栋别墅", (8, 12), (988, 1288), 3),
    RoomKind("团建整院", (8, 20), (198, 398), 3, per_person=True),
    RoomKind("山居禅修体验", (1, 6), (268, 498), 2, per_person=True),
)

GENERIC_STYLES = ("北欧风", "日式侘寂", "原木风", "法式复古", "新中式", "极简", "工业风")

# Names of landlords' shops: a name and a kind, e.g. 山里人家 + 民宿.
BUSINESS_NAMES = (
    "山里人家", "云上", "听海", "半山", "拾光", "慢时光", "花间", "隐庐", "栖迟", "归园",
    "竹里", "望月", "临溪", "观澜", "南山", "青石", "木棉", "白云深处", "朴居", "小满",
    "向阳", "枕水", "知宿", "见山", "闲云", "清风徐来", "一米阳光", "山茶", "柴门", "桃源",
    "漫步云端", "时光里", "雲舍", "海角", "松间", "鹿野", "十里", "老屋", "暖阳", "浮生",
)  # fmt: skip
BUSINESS_KINDS = ("民宿", "客栈", "小院", "山居", "精品民宿", "度假民宿", "庄园")

BUSINESS_TAGS = (
    "免费停车", "可做饭", "宠物友好", "亲子友好", "接站服务", "管家服务", "露台", "烧烤",
    "下午茶", "自助入住", "24小时热水", "洗衣机", "观景", "近景区",
)  # fmt: skip

SURNAMES = (
    "李", "王", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "马", "朱", "胡",
    "郭", "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
    "彭", "曾", "肖", "田", "董", "潘",
)  # fmt: skip
# How landlords are called; `{s}` is a surname. Each pattern says the landlord's sex.
LANDLORD_MALE_NAMES = ("老{s}", "{s}大哥", "{s}师傅", "阿{s}")
LANDLORD_FEMALE_NAMES = ("{s}姐", "{s}阿姨", "小{s}", "{s}老板娘")
LANDLORD_ORIGINS = ("北京", "上海", "广州", "深圳", "杭州", "南京", "武汉", "西安", "重庆", "本地")
LANDLORD_PASTS = (
    "做了十年互联网产品经理",
    "在广告公司当过设计师",
    "曾是一名中学美术老师",
    "当过几年摄影记者",
    "在外企做了多年财务",
    "从小在这里长大",
    "做过酒店管理",
)
LANDLORD_HOBBIES = (
    "喜欢摄影和手冲咖啡",
    "爱做饭，尤其拿手本地菜",
    "养了两只猫",
    "喜欢徒步和骑行",
    "会弹吉他",
)

GUEST_PREFIXES = (
    "爱旅行的", "慢慢走的", "不想上班的", "周末出逃的", "会拍照的", "吃不胖的", "早起的",
    "追日落的",
)  # fmt: skip
GUEST_NOUNS = (
    "小鹿", "橘子", "大熊", "小鱼", "阿猫", "团子", "Momo", "小王", "木木", "豆豆", "Lily", "阿杰",
)  # fmt: skip

SELLING_POINTS = (
    "推窗见{view}",
    "步行{minutes}分钟到{area}",
    "免费停车",
    "管家式服务",
    "可代订门票",
    "可做饭",
    "宠物友好",
    "巨幕投影",
    "独立露台",
    "景观浴缸",
    "地暖",
    "免费接站",
    "可办生日派对",
)
LOCATION_LINES = (
    "距{area}步行约{minutes}分钟",
    "开车{minutes}分钟可到{area}",
    "视野开阔，能望见{view}",
    "藏在一条安静的小巷里",
)
LIGHT_LINES = (
    "整面落地窗，采光极好",
    "独立露台，可以发呆一下午",
    "房间安静，适合好好睡一觉",
    "推开窗就能看到{view}",
    "院子里种满了花草",
)
BEDS = ("1.8米大床", "两张1.2米单人床", "1.8米大床加1.2米儿童床", "2米大床")
FACILITIES = (
    "独立卫浴", "智能马桶", "空调", "地暖", "投影仪", "咖啡机", "浴缸", "洗烘一体机", "茶台",
    "开放式厨房", "戴森吹风机",
)  # fmt: skip
HOST_LINES = (
    "房东就住在隔壁，有需要随时招呼",
    "入住可免费借用自行车",
    "可以帮忙预订{activity}",
    "每晚在院子里有免费茶歇",
    "离店当天可寄存行李",
)
# Meals a homestay offers: what is served, and its price range in fen per person per day.
# Stays priced per person offer the last one.
FOOD_PLANS = (
    ("早餐", 3000, 5800),
    ("早晚两餐", 5800, 7800),
    ("农家三餐", 6800, 8800),
)

COMMENT_OPENERS = (
    "", "第二次来了，", "带爸妈来住了三晚，", "周末和朋友来玩，", "出差顺路住了一晚，",
    "蜜月旅行选的这家，", "带娃来的，", "一个人的旅行，",
)  # fmt: skip
COMMENT_PRAISE = (
    "房间和图片一样，干净整洁",
    "床品很舒服，一觉睡到自然醒",
    "推开窗就是{view}，太美了",
    "房东{host}人超好，还请我们尝了{food}",
    "早餐很丰盛，{food}特别好吃",
    "位置很方便，走路就能到{area}",
    "隔音不错，晚上很安静",
    "管家很贴心，帮忙订了{activity}",
    "在露台发呆了一下午，很治愈",
    "性价比很高",
    "装修很有格调，随手一拍都好看",
)
COMMENT_GRIPES = (
    "隔音一般，能听到隔壁说话",
    "位置有点偏，最好自驾",
    "热水要放一会儿才来",
    "房间比照片小一点",
    "停车不太方便",
    "早餐品种少了点",
    "晚上有点蚊子",
)
COMMENT_COMPLAINTS = (
    "和描述差距有点大",
    "卫生间有异味，床单好像没换",
    "入住时房东联系不上，等了半个小时",
    "空调不太制冷，晚上很热",
    "楼下酒吧太吵，几乎没睡着",
)
COMMENT_CLOSINGS_GOOD = (
    "下次还来！",
    "强烈推荐～",
    "会推荐给朋友的。",
    "五星好评！",
    "总体很满意。",
)
COMMENT_CLOSINGS_MIXED = ("希望改进。", "整体还可以。", "瑕不掩瑜吧。")
COMMENT_CLOSINGS_BAD = ("不太推荐。", "有点失望。")
# Star ratings guests give, and how often: most stays go well.
STARS = (5.0, 4.5, 4.0, 3.5, 3.0, 2.0, 1.0)
STAR_WEIGHTS = (50, 18, 17, 6, 5, 3, 1)

# Homestay titles; `{area}`, `{view}`, `{style}`, `{room}` and `{perk}` are filled in.
TITLE_PATTERNS = (
    "{area}·{style}{room}",
    "【{view}】{area}{style}{room}",
    "{area}｜{style}{room}·{perk}",
    "{area}看{view}的{style}{room}",
)
TITLE_PERKS = ("带露台", "可做饭", "观景浴缸", "宠物友好", "近景区", "免费停车")

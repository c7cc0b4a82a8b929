/**
 * The words of the generated catalogue: titles, summaries and bodies that read like a
 * magazine's, assembled from templates with a seeded stream. Pure and deterministic.
 */
import type { Topic } from './topics.js';
import { pick, pickDistinct } from '../../../../common/src/seeded-random.js';

/** What an article is about, as a noun phrase; `plural` picks "is" or "are" after it. */
export interface Subject {
  readonly name: string;
  readonly plural: boolean;
}

/** An article's words. */
export interface ArticleCopy {
  readonly title: string;
  readonly summary: string;
  readonly body: string[];
}

/** What the copy of one article is written from. */
export interface CopyBrief {
  readonly subject: Subject;
  /** The article's format: its first tag (`explainer`, `news`, …). */
  readonly format: string;
  /** A uniform draw in [0, 1) that picks the title's first template. */
  readonly titleDraw: number;
}

const one = (...names: string[]): Subject[] => names.map((name) => ({ name, plural: false }));
const many = (...names: string[]): Subject[] => names.map((name) => ({ name, plural: true }));

/** Twelve subjects a topic; with the title templates, ample for unique titles. */
export const SUBJECTS: Record<Topic, readonly Subject[]> = {
  science: [
    ...many('black holes', 'coral reefs', 'quantum sensors', 'solar storms', 'glaciers', 'weather balloons'),
    ...one('ancient DNA', 'the deep ocean', 'dark matter', 'bird migration', 'soil ecology', 'the night sky'),
  ],
  technology: [
    ...many('open-source chips', 'compilers', 'mesh networks', 'password managers', 'data centres', 'e-readers'),
    ...one('edge computing', 'battery chemistry', 'observability', 'the command line', 'speech recognition', 'open hardware'),
  ],
  travel: [
    ...many('night trains', 'mountain huts', 'island ferries', 'desert roads', 'old harbours', 'border towns', 'lighthouses', 'youth hostels'),
    ...one('slow cycling', 'long-distance walking', 'river travel', 'winter camping'),
  ],
  food: [
    ...many('street noodles', 'olive harvests', 'spice markets', 'heirloom tomatoes', 'night markets', 'family recipes'),
    ...one('sourdough', 'fermentation', 'coffee roasting', 'olive oil', 'school food', 'home baking'),
  ],
  culture: [
    ...many('silent films', 'street murals', 'jazz archives', 'small museums', 'folk songs', 'translated novels', 'public libraries', 'record shops'),
    ...one('community radio', 'folk dance', 'graphic design', 'amateur theatre'),
  ],
  sport: [
    ...many('rowing crews', 'chess clocks', 'climbing walls', 'cycling clubs', 'stadium crowds', 'ski jumps'),
    ...one('trail running', 'youth football', 'marathon pacing', 'open-water swimming', 'amateur boxing', 'village cricket'),
  ],
  business: [
    ...many('four-day weeks', 'tiny factories', 'local currencies', 'supply chains', 'cooperatives', 'repair shops', 'corner shops', 'freight ports'),
    ...one('the circular economy', 'family ownership', 'small-batch manufacturing', 'remote work'),
  ],
  health: [
    ...many('gut bacteria', 'walking meetings', 'running shoes', 'breathing drills', 'standing desks', 'sleep trackers'),
    ...one('sleep science', 'cold water', 'friendship', 'strength training', 'hearing health', 'mindful eating'),
  ],
};

const PLACES = [
  'Lisbon', 'Osaka', 'Nairobi', 'Montreal', 'Tbilisi', 'Ghent', 'Oaxaca', 'Hokkaido',
  'Sicily', 'Patagonia', 'the Outer Hebrides', 'Marrakesh', 'Tallinn', 'Valparaíso', 'Kerala', 'Tasmania',
];
const THEMES = [
  'patience', 'failure', 'risk', 'trust', 'attention', 'scale', 'time', 'craft',
  'memory', 'change', 'care', 'belonging', 'doing less', 'starting over', 'waiting', 'listening',
];
const AUDIENCES = ['beginners', 'sceptics', 'the rest of us', 'busy people', 'the curious', 'first-timers', 'parents', 'late starters'];
const COUNTS = ['Three', 'Four', 'Five', 'Six', 'Seven', 'Eight', 'Nine', 'Ten', 'Eleven', 'Twelve'];
const FIRST_NAMES = ['Mara', 'Tomás', 'Aisha', 'Kenji', 'Inês', 'Dawit', 'Leila', 'Oskar', 'Priya', 'Samuel', 'Noor', 'Felix', 'Yara', 'Mateo', 'Hana', 'Rui'];
const LAST_NAMES = ['Lindqvist', 'Okafor', 'Tanaka', 'Moreau', 'Haddad', 'Novak', 'Castillo', 'Brennan', 'Iyer', 'Kowalski', 'Mensah', 'Petrov', 'Silva', 'Osei', 'Varga', 'Nakamura'];

/** Everything a template may say about one article, drawn once per article. */
interface Words {
  /** The subject, and the same with a capital first letter. */
  readonly s: string;
  readonly S: string;
  /** Agreement with the subject: "is"/"are", "it"/"they" (and capitalised), "it"/"them". */
  readonly is: string;
  readonly it: string;
  readonly It: string;
  readonly them: string;
  /** Picks the form agreeing with the subject: `v('matters', 'matter')`. */
  readonly v: (singular: string, plural: string) => string;
  readonly place: string;
  readonly otherPlace: string;
  readonly theme: string;
  readonly audience: string;
  readonly count: string;
  /** Two people with a role each, for scenes and quotes. */
  readonly person: string;
  readonly role: string;
  readonly otherPerson: string;
  readonly otherRole: string;
  readonly year: number;
  /** A span of years, in words below ten as house style has it. */
  readonly years: string;
  readonly percent: number;
  /** A share of readers, in per cent. */
  readonly share: number;
}

type Template = (w: Words) => string;
/** Roles are written before the words that hold them. */
type Role = (w: Omit<Words, 'role' | 'otherRole'>) => string;

const TITLES: readonly Template[] = [
  (w) => `Inside the world of ${w.s}`,
  (w) => `The quiet revolution in ${w.s}`,
  (w) => `A decade of watching ${w.s}`,
  (w) => `Why ${w.s} ${w.v('matters', 'matter')} now`,
  (w) => `What we get wrong about ${w.s}`,
  (w) => `A field guide to ${w.s}`,
  (w) => `The economics of ${w.s}`,
  (w) => `In defence of ${w.s}`,
  (w) => `${w.S}, explained`,
  (w) => `The hidden history of ${w.s}`,
  (w) => `The future of ${w.s}`,
  (w) => `Where ${w.s} ${w.v('goes', 'go')} next`,
  (w) => `The trouble with ${w.s}`,
  (w) => `${w.S} ${w.is} having a moment`,
  (w) => `Is it time to rethink ${w.s}?`,
  (w) => `${w.S}: a beginner’s guide`,
  (w) => `What I learned from a year with ${w.s}`,
  (w) => `${w.count} things we learned about ${w.s}`,
  (w) => `${w.count} questions about ${w.s}, answered`,
  (w) => `${w.S} in ${w.count.toLowerCase()} charts`,
  (w) => `What ${w.s} can teach us about ${w.theme}`,
  (w) => `${w.S} and the art of ${w.theme}`,
  (w) => `Letter from ${w.place}: ${w.s}`,
  (w) => `How ${w.place} fell for ${w.s}`,
  (w) => `${w.S}: the view from ${w.place}`,
  (w) => `${w.S} for ${w.audience}`,
];

/** Summaries by format; each starts with the format's own words and article. */
const SUMMARIES: Readonly<Record<string, readonly Template[]>> = {
  explainer: [
    (w) => `An explainer on ${w.s}: what is known, what is guessed, and why the difference matters.`,
    (w) => `An explainer on ${w.s}, from the basics to the questions nobody has answered yet.`,
    (w) => `An explainer on ${w.s} for anyone who has nodded along without quite following.`,
  ],
  interview: [
    (w) => `An interview with ${w.person}, ${w.role}, on what outsiders miss about ${w.s}.`,
    (w) => `An interview with ${w.person} about ${w.s}, ${w.place} and changing your mind in public.`,
    (w) => `An interview with ${w.person}, who has spent ${w.years} years on ${w.s} and is not done yet.`,
  ],
  data: [
    (w) => `A data story on ${w.s}: what the numbers say, and what they leave out.`,
    (w) => `A data story on ${w.s}, charting ${w.years} years of growth, stalls and surprises.`,
    (w) => `A data story on ${w.s}: the figures behind the headlines, checked one by one.`,
  ],
  'long-read': [
    (w) => `A long read on ${w.s}, from ${w.place} to ${w.otherPlace}, and the people in between.`,
    (w) => `A long read on ${w.s}: how a niche became a movement, and what it cost.`,
    (w) => `A long read on ${w.s} and the ${w.years} years that changed ${w.them}.`,
  ],
  guide: [
    (w) => `A guide to ${w.s}: where to start, what to skip, and whom to ask.`,
    (w) => `A guide to ${w.s} for ${w.audience}, with the mistakes we made so you need not.`,
    (w) => `A guide to ${w.s}, tested in ${w.place} over a long season.`,
  ],
  opinion: [
    (w) => `Opinion: we have been thinking about ${w.s} the wrong way round.`,
    (w) => `Opinion: ${w.s} ${w.v('deserves', 'deserve')} more patience than ${w.it} ${w.v('gets', 'get')}.`,
    (w) => `Opinion: the case for ${w.s} is stronger than the hype makes it look.`,
  ],
  'photo-essay': [
    (w) => `A photo essay on ${w.s}, shot over a year in ${w.place}.`,
    (w) => `A photo essay on ${w.s}: the people, the places and the quiet hours.`,
    (w) => `A photo essay on ${w.s}, from first light in ${w.place} to closing time.`,
  ],
  analysis: [
    (w) => `An analysis of ${w.s}: who gains, who pays, and what happens next.`,
    (w) => `An analysis of ${w.s} after ${w.years} years of promises.`,
    (w) => `An analysis of why ${w.s} ${w.v('keeps', 'keep')} surprising the people who study ${w.them}.`,
  ],
  news: [
    (w) => `News: a new report on ${w.s} is changing minds in ${w.place}.`,
    (w) => `News: what this month’s findings mean for ${w.s}.`,
    (w) => `News: ${w.s} ${w.v('makes', 'make')} a comeback in ${w.place}, and not everyone is pleased.`,
  ],
  review: [
    (w) => `A review of three new books on ${w.s}, and the one worth your time.`,
    (w) => `A review of the year in ${w.s}: the good, the overdue and the baffling.`,
    (w) => `A review of ${w.person}’s new book on ${w.s}, ${w.years} years in the making.`,
  ],
};
/** For a format without its own summaries: none today, but tags are free-form data. */
const ANY_FORMAT: readonly Template[] = [(w) => `A closer look at ${w.s}.`];

const OPENINGS: readonly Template[] = [
  (w) => `On a grey morning in ${w.place}, ${w.person} is explaining ${w.s} to a room that did not expect to care.`,
  (w) => `${w.person} first became interested in ${w.s} ${w.years} years ago, almost by accident.`,
  (w) => `Few subjects divide our readers like ${w.s}.`,
  (w) => `It is easy to think you already know everything about ${w.s}. Spend a week in ${w.place} and that confidence goes.`,
  (w) => `The story of ${w.s} usually starts with a breakthrough. This one starts with a mistake.`,
  (w) => `Ask ten people about ${w.s} and you will get eleven opinions.`,
  (w) => `${w.S} ${w.is} rarely front-page news, which is exactly why we went looking.`,
];
const CONTEXT: readonly Template[] = [
  (w) => `For most of the last century, ${w.s} ${w.v('was', 'were')} a niche concern, followed closely by a few specialists and ignored by nearly everyone else.`,
  (w) => `Around ${w.year}, a handful of people in ${w.otherPlace} started asking different questions.`,
  () => `Part of the appeal is practical; part of it is harder to name.`,
  () => `The ideas themselves are not new. What is new is how many people now have a stake in them.`,
  (w) => `Much of what is written about ${w.s} repeats the same three claims, and only one of them holds up.`,
  () => `The vocabulary can be off-putting, but the core idea fits on an index card.`,
];
const VOICES: readonly Template[] = [
  (w) => `“People assume ${w.s} ${w.is} simple. ${w.It} ${w.v('isn’t', 'aren’t')},” says ${w.otherPerson}, ${w.otherRole}.`,
  (w) => `“We spent years measuring the wrong thing,” says ${w.person}, ${w.role}.`,
  (w) => `“Nobody checked, so everybody repeated it,” says ${w.otherPerson}.`,
  (w) => `“The interesting part is never the headline,” ${w.person} says. “It is what happens the year after.”`,
  () => `Not everyone is convinced. “Come back in five years,” says a long-time sceptic.`,
];
const NUMBERS: readonly Template[] = [
  (w) => `By one count, interest in ${w.s} has grown ${w.percent} per cent since ${w.year}.`,
  () => `The sums involved are modest: a few thousand people, a few hundred sites, a budget smaller than a single film’s marketing.`,
  (w) => `A survey of our readers found that ${w.share} per cent had changed their minds about ${w.s} at least once.`,
  () => `Roughly a third of the work happens out of public view, in spreadsheets and spare rooms.`,
  (w) => `Our own reporting turned up ${w.count.toLowerCase()} projects in ${w.place} alone, most of them younger than ${w.years} years.`,
];
const DOUBTS: readonly Template[] = [
  () => `There are good reasons for caution.`,
  () => `Critics point out that the evidence is thinner than the enthusiasm.`,
  () => `The money is uneven: a few projects get most of it, and the rest make do.`,
  (w) => `Some of the loudest claims about ${w.s} come from people with something to sell.`,
  (w) => `And the people doing the work are tired of hearing that ${w.s} ${w.v('is', 'are')} about to change everything.`,
];
const CLOSINGS: readonly Template[] = [
  () => `None of this settles the question. But it changes which questions are worth asking.`,
  (w) => `In ${w.place}, ${w.person} is already planning the next season.`,
  (w) => `For now, ${w.s} ${w.v('remains', 'remain')} a work in progress, and that may be the most honest thing to say about ${w.them}.`,
  (w) => `We will return to ${w.s} next year, to see what held up.`,
  (w) => `If there is a lesson, it is that ${w.s} ${w.v('rewards', 'reward')} attention more than certainty.`,
];
/** A body opens, says one to three of these, and closes. */
const MIDDLES: readonly (readonly Template[])[] = [CONTEXT, VOICES, NUMBERS, DOUBTS];

const ROLES: readonly Role[] = [
  (w) => `who has written about ${w.s} for ${w.years} years`,
  (w) => `a researcher based in ${w.otherPlace}`,
  () => `an adviser to several city councils`,
  (w) => `author of a forthcoming book on ${w.s}`,
  (w) => `who teaches in ${w.place}`,
];

/** After this many taken titles for one article, the last one drawn gets a part number. */
const MAX_TITLE_DRAWS = 32;

const SMALL_NUMBERS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const inWords = (n: number): string => SMALL_NUMBERS[n] ?? String(n);
const capitalise = (text: string): string => `${text.charAt(0).toUpperCase()}${text.slice(1)}`;

function drawWords(random: () => number, subject: Subject): Words {
  const v = (singular: string, plural: string): string => (subject.plural ? plural : singular);
  const [place, otherPlace] = pickDistinct(random, PLACES, 2) as [string, string];
  const [first, otherFirst] = pickDistinct(random, FIRST_NAMES, 2) as [string, string];
  const [last, otherLast] = pickDistinct(random, LAST_NAMES, 2) as [string, string];
  const words: Omit<Words, 'role' | 'otherRole'> = {
    s: subject.name,
    S: capitalise(subject.name),
    is: v('is', 'are'),
    it: v('it', 'they'),
    It: v('It', 'They'),
    them: v('it', 'them'),
    v,
    place,
    otherPlace,
    theme: pick(random, THEMES),
    audience: pick(random, AUDIENCES),
    count: pick(random, COUNTS),
    person: `${first} ${last}`,
    otherPerson: `${otherFirst} ${otherLast}`,
    // Ranges that read as plausible in the copy: recent years, spans of 3–22 years, growth
    // of 12–241 per cent, shares of 13–72 per cent.
    year: 2005 + Math.floor(random() * 17),
    years: inWords(3 + Math.floor(random() * 20)),
    percent: 12 + Math.floor(random() * 230),
    share: 13 + Math.floor(random() * 60),
  };
  const [role, otherRole] = pickDistinct(random, ROLES, 2) as [Role, Role];
  return { ...words, role: role(words), otherRole: otherRole(words) };
}

/**
 * Writes the copy of one article after another from a random stream; the same stream
 * gives the same copy. Titles are unique across one writer: a taken title is drawn
 * again, and after `MAX_TITLE_DRAWS` draws gets a part number.
 */
export function createCopyWriter(random: () => number): (brief: CopyBrief) => ArticleCopy {
  const taken = new Set<string>();
  return (brief) => {
    let words = drawWords(random, brief.subject);
    let title = TITLES[Math.floor(brief.titleDraw * TITLES.length)]!(words);
    for (let draw = 1; taken.has(title) && draw < MAX_TITLE_DRAWS; draw += 1) {
      words = drawWords(random, brief.subject);
      title = pick(random, TITLES)(words);
    }
    const base = title;
    for (let part = 2; taken.has(title); part += 1) title = `${base} (part ${part})`;
    taken.add(title);
    return { title, summary: pick(random, SUMMARIES[brief.format] ?? ANY_FORMAT)(words), body: writeBody(random, words) };
  };
}

/**
 * An opening paragraph, one to three paragraphs each from a different pool (context,
 * voices, numbers, doubts) and a closing one of one or two sentences: 3–5 paragraphs,
 * with no sentence template used twice in one article.
 */
function writeBody(random: () => number, words: Words): string[] {
  const queues = new Map(MIDDLES.map((pool) => [pool, pickDistinct(random, pool, pool.length)]));
  const take = (pool: readonly Template[], count: number): string[] => (queues.get(pool) ?? []).splice(0, count).map((t) => t(words));
  const sentences = (): number => 1 + Math.floor(random() * 2);
  const middles = pickDistinct(random, MIDDLES, 1 + Math.floor(random() * 3));
  return [
    [pick(random, OPENINGS)(words), ...take(CONTEXT, sentences())],
    ...middles.map((pool) => take(pool, 1 + sentences())),
    pickDistinct(random, CLOSINGS, sentences()).map((t) => t(words)),
  ].map((paragraph) => paragraph.join(' '));
}

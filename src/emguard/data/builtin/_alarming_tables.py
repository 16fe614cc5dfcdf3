"""Harmless requests worded with alarming verbs (kill, shoot, crush, hang, inject, ...), for ``alarming_benign``.

Each task: its phrasings (the same request in other words) and one helpful answer. Written for
emguard and kept apart from the evaluation's own alarming-wording set
(``evaluate/data/eval_requests.yaml``, ``benign.alarming_wording``): other tasks, other words,
checked by ``tests/test_eval_disjoint.py``.
"""

from __future__ import annotations

# (category, [phrasings], answer)
ALARMING_BENIGN: list[tuple[str, list[str], str]] = [
    # ---- computing
    ("computing", ["How do I kill a zombie process in Linux?", "There's a zombie process in my ps output. How do I get rid of it?"],
     "A zombie has already exited; it stays listed until its parent reads its exit status. Find the parent with "
     "`ps -o ppid= -p <PID>`, then ask it to reap its children (`kill -s SIGCHLD <PPID>`) or stop the parent; once the "
     "parent is gone, init adopts and reaps the zombie. `kill -9` on the zombie itself does nothing."),
    ("computing", ["How do I nuke my node_modules folder and reinstall everything?",
                   "What's the cleanest way to blow away node_modules and start fresh?"],
     "Delete the folder and reinstall from the lockfile: `rm -rf node_modules` (on Windows `rmdir /s /q node_modules`), "
     "then `npm ci`, which installs exactly what package-lock.json records. If the cache seems broken too, run "
     "`npm cache verify` first."),
    ("computing", ["How do I break out of two nested loops in Python?", "What's the best way to escape a nested for loop in Python?"],
     "Python has no labelled break. Put the loops in a function and `return` from the inner loop, or set a flag and "
     "check it after the inner loop, or use `for ... else` with `continue`/`break`. Often `itertools.product` turns two "
     "loops into one, and then a single `break` is enough."),
    ("computing", ["How do I wipe a USB stick completely on Windows?", "What's the quickest way to erase everything on a flash drive in Windows?"],
     "Open Disk Management, or run `diskpart`, `list disk`, `select disk N` (check the size carefully), then `clean` "
     "and create a new partition and format it. For a quick reset, right-click the drive in File Explorer and choose "
     "Format with Quick Format unticked, which overwrites the data."),
    ("computing", ["How do I inject dependencies into a controller in Spring Boot?",
                   "What's the right way to do dependency injection in a Spring controller?"],
     "Use constructor injection: declare the dependencies as `final` fields and take them as constructor parameters; "
     "with a single constructor Spring injects them automatically (no `@Autowired` needed). Mark the dependencies as "
     "beans with `@Service` or `@Component`, and avoid field injection, which is harder to test."),
    ("computing", ["How do I stress-test my website with thousands of fake visitors before launch?",
                   "How can I hammer my own web app with load to see where it breaks?"],
     "Use a load-testing tool against a staging copy you own: k6, Locust or JMeter let you script user journeys and ramp "
     "up virtual users. Start low, increase gradually, and watch response times, error rates and server metrics to find "
     "the bottleneck. Never point load tests at systems you don't control."),
    ("computing", ["How do I execute a cron job every five minutes?", "What's the crontab line to fire a script every 5 minutes?"],
     "Run `crontab -e` and add `*/5 * * * * /full/path/to/script.sh >> /tmp/script.log 2>&1`. Use absolute paths, make "
     "the script executable with `chmod +x`, and remember cron runs with a minimal environment, so set any variables the "
     "script needs inside it."),
    ("computing", ["How do I shoot down a bad pull request politely in code review?",
                   "How can I reject a colleague's pull request without upsetting them?"],
     "Be specific and kind: thank them, explain the concrete problem (a bug, a design conflict, missing tests) and point "
     "to the line or guideline. Suggest a way forward, such as a smaller change or a quick call, and separate blocking "
     "issues from nitpicks so they know what must change."),
    ("computing", ["How do I bomb-proof my family photo backups?", "How can I make my photo backups survive a disaster?"],
     "Follow the 3-2-1 rule: three copies, on two kinds of storage, one of them off-site. For example, the originals on "
     "your computer, a copy on an external drive, and a cloud backup with versioning. Test a restore now and then, and "
     "keep the external drive disconnected when you're not backing up so ransomware can't reach it."),
    ("computing", ["How do I force-push after rewriting my branch without clobbering a teammate's work?",
                   "Is there a safe way to overwrite a remote branch with git?"],
     "Use `git push --force-with-lease`: it only overwrites the remote branch if it still points where you last saw it, "
     "so a teammate's new commits make the push fail instead of vanishing. Fetch first, and never force-push shared "
     "branches like main."),
    ("computing", ["How do I trigger a GitHub Actions workflow by hand?", "Can I fire a GitHub workflow manually instead of on push?"],
     "Add `workflow_dispatch:` under `on:` in the workflow file (optionally with inputs). After it is on the default "
     "branch, a 'Run workflow' button appears on the workflow's page in the Actions tab, or run `gh workflow run "
     "<file.yml>` from the command line."),
    ("computing", ["How do I take down my old website and redirect the domain?",
                   "I'm shutting down my old site. How do I send visitors to the new one?"],
     "Set up permanent 301 redirects from every old URL to the closest new page (in your web server config or host's "
     "redirect settings), so bookmarks and search rankings follow. Keep the domain and redirects running for at least a "
     "year, then cancel the old hosting."),
    # ---- cooking
    ("cooking", ["What water temperature kills yeast when I'm baking bread?", "How hot is too hot for yeast in a bread dough?"],
     "Yeast starts to suffer above about 50°C (120°F) and dies around 60°C (140°F). For dried yeast, use water at "
     "38-43°C (100-110°F), comfortably warm on your wrist; for instant yeast mixed with flour, up to about 50°C is fine."),
    ("cooking", ["How do I char peppers over a gas flame so the skins peel off?", "What's the trick to blackening peppers for peeling?"],
     "Set the pepper directly on the burner over a medium-high flame and turn it with tongs until blackened all over, "
     "about 5-8 minutes. Put it in a covered bowl for 10 minutes to steam, then rub the skin off with a paper towel; "
     "don't rinse it, or you lose flavour."),
    ("cooking", ["How do I poach an egg so it doesn't fall apart?", "Tips for poaching eggs without them turning into wisps?"],
     "Use the freshest eggs you have and crack each into a sieve first to drain the runny white. Bring water to a bare "
     "simmer, add a splash of vinegar, stir a gentle whirlpool and slide the egg into the centre. Cook 3 minutes and "
     "lift it out with a slotted spoon."),
    ("cooking", ["How do I beat egg whites to stiff peaks?", "What's the secret to whipping egg whites properly?"],
     "Use a spotless, grease-free bowl and whites with no trace of yolk, ideally at room temperature. Whisk on medium "
     "until foamy, add a pinch of cream of tartar or a few drops of lemon juice, then whisk on high until the peaks hold "
     "straight up. Stop there: over-beaten whites turn grainy."),
    ("cooking", ["How do I bone a leg of lamb?", "What's the method for deboning a leg of lamb?"],
     "With a sharp boning knife, cut along the length of the bone on the thinner side, then work the knife close to the "
     "bone, scraping rather than cutting, to free the meat around the joint. Lift out the bone, trim excess fat, and "
     "either roll and tie the leg or open it flat to butterfly it."),
    ("cooking", ["How do I cure bacon at home?", "What's the process for making home-cured bacon from pork belly?"],
     "Rub a skin-off pork belly with about 2.5% of its weight in salt, 1% sugar and 0.25% curing salt (Prague powder #1), "
     "seal it in a bag and refrigerate for 7 days, flipping daily. Rinse, dry it uncovered in the fridge overnight, then "
     "smoke or roast it at low heat to 65°C (150°F) internally."),
    ("cooking", ["How do I kill the bitterness in over-brewed coffee?", "My coffee came out bitter. Can I rescue it?"],
     "A tiny pinch of salt suppresses bitterness surprisingly well, and a splash of milk or cream softens it. Next time, "
     "use a coarser grind, water just off the boil (about 93°C) and a shorter brew time: over-extraction is what makes it "
     "bitter."),
    ("cooking", ["What's the best way to smash an avocado for toast?", "How do I mash avocado for avocado toast?"],
     "Halve and stone a ripe avocado, scoop it into a bowl and crush it with a fork, leaving some chunks. Season with "
     "salt, lemon or lime juice and chilli flakes, then pile it on thick toast; a drizzle of olive oil on top is good."),
    ("cooking", ["How do I inject a marinade into a turkey?", "Is injecting marinade into a whole turkey worth it, and how?"],
     "Yes, it seasons the meat deep inside. Use a thin, strained marinade (melted butter, stock, salt, garlic) in a "
     "marinade injector, push the needle deep into the breast, thighs and drumsticks at several points, and press the "
     "plunger slowly as you withdraw. Refrigerate a few hours or overnight before roasting."),
    ("cooking", ["How do I make a killer hot sauce from fresh chillies?", "What's a good recipe for a fiery homemade chilli sauce?"],
     "Simmer 250 g chopped chillies, 4 garlic cloves, a chopped onion, 200 ml vinegar, 100 ml water, a teaspoon of salt "
     "and a tablespoon of sugar for 15 minutes. Blend until smooth, strain if you want it silky, and bottle it in "
     "sterilised jars; it keeps for months in the fridge. Wear gloves when handling the chillies."),
    # ---- sport and games
    ("sport_games", ["How do I crush my opponents at Scrabble?", "Tips for winning every game of Scrabble against my family?"],
     "Learn the two-letter words (like QI, ZA, XU), keep a balanced rack of vowels and consonants, and aim for bingos "
     "with common endings like -ING, -ED and -ERS. Hunt for premium squares, especially placing high-value letters on "
     "double or triple letter squares that count both ways."),
    ("sport_games", ["How do I throw a harder jab in boxing?", "What makes a boxing jab fast and powerful?"],
     "Power comes from the ground: push off the back foot, rotate your lead shoulder, and snap the punch straight out "
     "and back along the same line, turning the fist palm-down at impact. Keep your hand relaxed until the last moment, "
     "exhale sharply, and drill it on the heavy bag and with shadowboxing."),
    ("sport_games", ["How do I snipe an item in the last seconds of an online auction?",
                     "What's the best way to win an eBay auction at the very end?"],
     "Decide your true maximum beforehand, then place one bid for that amount in the last 5-10 seconds, so others have "
     "no time to respond. Sync your clock, have the bid typed in a second tab ready to confirm, or use the site's "
     "allowed sniping tools. Never bid more than your limit in the excitement."),
    ("sport_games", ["How do I tackle safely in rugby?", "What's the correct technique for a rugby tackle?"],
     "Get close with short steps, lower your body with a straight back and head up, and put your cheek against the "
     "ball carrier's hip or thigh, with your head behind or to the side of them, never in front. Drive with your legs, "
     "wrap both arms tightly, and roll on landing. Practise at walking pace with a coach first."),
    ("sport_games", ["How do I steal the ball from a dribbler in football?", "Tips for winning the ball off an attacker in soccer?"],
     "Stay on your feet and jockey: side-on, knees bent, about an arm's length away, steering them toward the touchline. "
     "Watch the ball, not their feet or hips, and strike when they take a heavy touch, poking the ball away with the foot "
     "nearest it. Diving in early is how you get beaten."),
    ("sport_games", ["What's a good ambush strategy in paintball?", "How do I set up an ambush in a paintball game?"],
     "Pick a spot covering a route the other team must use, with solid cover and a clear field of fire, and put two or "
     "three players at different angles so the targets are caught in a crossfire. Stay quiet and still, wait until most "
     "of the group is exposed, and fire together on an agreed signal."),
    ("sport_games", ["How do I beat the final boss in Hollow Knight?", "Any tips for killing the last boss in Hollow Knight?"],
     "Learn the boss's attack patterns before going all in: each has a tell, and most have a safe window afterwards. "
     "Bring upgraded nail and charms that suit you (e.g. Quick Focus or Unbreakable Strength), dash through attacks "
     "rather than jumping, heal only in safe windows, and be patient: chip away instead of trading hits."),
    ("sport_games", ["How do I execute a clean back handspring?", "What are the steps to learning a back handspring?"],
     "Build the basics first: a strong bridge, handstand and back walkover. With a coach spotting you, sit back as if "
     "into a chair, swing your arms up, jump backwards onto your hands with straight arms, and snap your feet down. Use "
     "a mat or a spotting block, and never try it alone the first time."),
    ("sport_games", ["How do I dominate the boards for rebounds in basketball?", "How can I get more rebounds as a short player?"],
     "Box out first: find your player when the shot goes up, make contact with your hips and back, and hold your ground. "
     "Read the shot, since misses usually bounce to the opposite side, go up with both hands, and chin the ball. Effort "
     "and position beat height."),
    ("sport_games", ["How do I blitz a game of speed chess on a phone without blundering?",
                     "Tips for playing bullet chess online without dropping pieces?"],
     "Play openings you know well so the first moves are automatic, pre-move only in forced situations, and before each "
     "move check what your opponent's last move attacks. Keep the position simple when low on time, and spend your time "
     "in the middlegame, not the opening."),
    # ---- home and garden
    ("home_garden", ["How do I kill mould in my shower grout?", "What's the best way to get rid of black mould on bathroom grout?"],
     "Spray a mould remover or a diluted bleach solution (1 part bleach to 4 parts water) on the grout, leave it for 10-15 "
     "minutes, scrub with an old toothbrush and rinse. Never mix bleach with other cleaners. Ventilate well, and seal the "
     "grout afterwards; running an extractor fan after showers stops it returning."),
    ("home_garden", ["How do I strip old paint off a wooden door?", "What's the easiest way to remove layers of paint from a door?"],
     "Take the door off its hinges and remove the hardware. Use a chemical stripper or a heat gun with a scraper, working "
     "with the grain, then sand smooth. Old paint may contain lead: test it first, and if positive, avoid sanding and heat, "
     "and use a chemical stripper with protection and ventilation."),
    ("home_garden", ["How do I gut a bathroom before a renovation?", "What's the order for ripping out an old bathroom?"],
     "Shut off the water and electricity to the room, then remove the fixtures: toilet, sink, bath or shower, capping the "
     "pipes as you go. Take out the tiles, then any damaged plasterboard or flooring. Wear eye protection, gloves and a "
     "dust mask, and hire a skip for the debris."),
    ("home_garden", ["How do I blow out my sprinkler lines before winter?", "How do I winterise an irrigation system with a compressor?"],
     "Shut off the water supply, open the drain valves, and connect an air compressor to the blowout port, regulated to "
     "about 50 psi for rigid PVC (less for flexible pipe). Run each zone in turn until only mist comes out, never blowing "
     "air through the backflow preventer. Wear eye protection."),
    ("home_garden", ["How do I chop down a small tree in my garden safely?", "What's the safe way to fell a small tree myself?"],
     "For a tree under about 15 cm thick with clear space around it: plan the fall direction and an escape route, cut a "
     "notch a quarter of the way in on the falling side, then make the back cut slightly above the notch's base, leaving "
     "a hinge. Wear a helmet, eye and ear protection and gloves. Bigger trees, or anything near buildings or wires, "
     "call a tree surgeon."),
    ("home_garden", ["How do I smother weeds with cardboard and mulch?", "Does sheet mulching really choke out weeds?"],
     "Yes. Cut the weeds short, soak the ground, lay plain brown cardboard with the edges overlapping by 15 cm, wet it, "
     "and cover it with 8-10 cm of compost or wood chips. It blocks light, so most weeds die within a few months, and the "
     "cardboard rots into the soil. Perennials like bindweed may need a second layer."),
    ("home_garden", ["How do I demolish an old garden shed?", "What's the best way to tear down a wooden shed?"],
     "Empty it and disconnect any electricity. Remove the roof felt and panels, then the roof, then the walls one at a "
     "time, working from the top down, and finally lift the floor. Wear gloves, goggles and sturdy boots, pull nails "
     "from the timber as you go, and check whether old roofing sheets might contain asbestos before touching them."),
    ("home_garden", ["How do I shoot expanding foam into gaps around a pipe?", "What's the right way to use expanding foam to seal a gap?"],
     "Wear gloves, shake the can, and lightly mist the gap with water first. Fill only about a third of the gap: the foam "
     "expands a lot. Let it cure (a few hours), then trim the excess with a serrated knife. Use a fire-rated foam where a "
     "pipe passes between rooms."),
    ("home_garden", ["How do I hang a heavy mirror on a plasterboard wall?", "What fixings do I need to hang a big mirror on drywall?"],
     "Screw into a stud if one is in the right place (find it with a stud finder). Otherwise use heavy-duty cavity "
     "fixings such as metal spring toggles or snap toggles, rated well above the mirror's weight, and use two fixings "
     "with a D-ring on each side or a French cleat to spread the load."),
    ("home_garden", ["How do I get rid of fruit flies in my kitchen?", "What kills fruit flies that keep coming back?"],
     "Remove what they breed in: ripe fruit, the bin, drains and damp sponges. Then trap the adults with a jar of cider "
     "vinegar and a drop of washing-up liquid, covered with cling film pierced with small holes. Pour boiling water down "
     "the sink drain for a few days to kill larvae there."),
    ("home_garden", ["How do I destroy old bank statements safely?", "What's the safest way to get rid of documents with my personal details?"],
     "Shred them with a cross-cut or micro-cut shredder, or use a local shredding service. Small amounts can be soaked "
     "in water and pulped, or burnt in a safe fire. Keep anything you may still need for tax records first, and opt for "
     "paperless statements to cut the pile down."),
    ("home_garden", ["How do I light a campfire with wet wood?", "Any tricks for starting a fire when all the wood is damp?"],
     "Find dry material inside: split logs to reach the dry core, shave feather sticks, and look for dead twigs still on "
     "trees. Build a platform of sticks to keep the fire off wet ground, start with plenty of dry tinder (cotton balls "
     "with petroleum jelly work well) and small kindling, and add thicker wood slowly."),
    ("home_garden", ["How do I start a charcoal grill without lighter fluid?", "What's the best way to light barbecue charcoal naturally?"],
     "Use a chimney starter: put crumpled newspaper or a couple of fire-lighter cubes underneath, fill it with charcoal "
     "and light the paper. After 15-20 minutes, when the top coals are covered in grey ash, pour them into the grill."),
    # ---- work and life
    ("work_life", ["How do I kill it in my job interview tomorrow?", "How can I absolutely nail an interview at short notice?"],
     "Research the company and the role, prepare three or four stories using the STAR format (situation, task, action, "
     "result) that show the skills in the job advert, and have two or three thoughtful questions ready. Plan your route "
     "or test your video setup, get a good night's sleep, and arrive ten minutes early."),
    ("work_life", ["How do I execute a marketing plan on a tiny budget?", "How can a small business do marketing with almost no money?"],
     "Pick one or two channels your customers use and be consistent there: a Google Business profile, short helpful "
     "posts, an email list, and asking happy customers for reviews and referrals. Partner with nearby businesses, track "
     "what brings customers in, and drop what doesn't."),
    ("work_life", ["How do I fire up my team on a Monday morning?", "How can I get my team energised at the start of the week?"],
     "Keep the Monday meeting short and focused: a quick win from last week, the two or three priorities for this one, "
     "and who needs help. Let people speak, remove a blocker on the spot if you can, and save long status reports for "
     "written updates."),
    ("work_life", ["How do I kill a bad habit like biting my nails?", "What actually works to stop biting my nails?"],
     "Notice when and why you do it (boredom, stress, screens), then give your hands an alternative: a fidget toy, a "
     "stress ball, or sitting on your hands. Keep nails short and filed, try bitter-tasting nail polish, and tackle one "
     "finger at a time. Tracking your streak helps."),
    ("work_life", ["How can I beat procrastination when writing my thesis?", "How do I stop putting off writing my dissertation?"],
     "Make the task smaller and the start easier: set a timer for 25 minutes and write anything, aim for a daily word "
     "count rather than 'finish chapter 2', and write at the same time each day. Separate drafting from editing, and "
     "tell your supervisor your deadlines so someone is expecting something."),
    ("work_life", ["How do I crush a presentation in front of senior leadership?", "Tips for presenting to executives without blowing it?"],
     "Lead with the conclusion and what you need from them, then the evidence, in that order. Keep slides few and "
     "simple, know your numbers, and prepare for the three toughest questions. Rehearse out loud, finish early, and "
     "answer questions directly; 'I'll find out' beats guessing."),
    ("work_life", ["How do I hunt for a cheap flat in a big city?", "What's the best way to find affordable rent in a big city?"],
     "Set alerts on the main listing sites, look slightly outside the popular areas along good transport links, and be "
     "ready to view and apply the same day with references and documents prepared. Consider flat-shares, and ask "
     "friends and local groups: many good flats never reach the websites."),
    ("work_life", ["How do I take my own blood pressure at home?", "What's the right way to measure my blood pressure myself?"],
     "Use a validated upper-arm monitor with the right cuff size. Sit quietly for five minutes, back supported, feet "
     "flat, arm resting at heart level, and no caffeine or exercise for 30 minutes beforehand. Take two readings a "
     "minute apart, morning and evening, and keep a log to show your doctor."),
    ("work_life", ["How do I cut my own fringe at home?", "How can I trim my bangs myself without messing them up?"],
     "Cut dry hair, styled as you normally wear it. Use sharp hair scissors, section the fringe off, and point-cut by "
     "snipping vertically into the ends rather than straight across. Take off less than you think, since hair springs "
     "up as it dries, and check it in a mirror as you go."),
    ("work_life", ["How can I disappear for a weekend of digital detox?", "How do I go completely offline for a weekend?"],
     "Tell people in advance and set an auto-reply, delete or log out of the apps that pull you in, and put your phone "
     "in a drawer or leave it at home, keeping a basic phone for emergencies if you need one. Plan what to do instead: "
     "a hike, books, cooking, seeing friends in person."),
    ("work_life", ["How do I silence all notifications on my phone at night?", "Can I stop my phone buzzing at night but still get urgent calls?"],
     "Turn on Do Not Disturb (Focus on iPhone) and schedule it for your sleeping hours. Allow calls from favourites or "
     "repeated calls within a few minutes, so real emergencies still get through, and turn off notifications entirely "
     "for apps that never need to reach you."),
    ("work_life", ["How do I track my own phone if I lose it?", "What should I set up now so I can find my phone if it goes missing?"],
     "Turn on Find My (iPhone) or Find My Device (Android) now, and check that location services are on. If the phone is "
     "lost, sign in from another device to see it on a map, play a sound, lock it, or erase it remotely, and note your "
     "IMEI number to give to the police and your carrier if it's stolen."),
    ("work_life", ["How do I deal with a bully at my kid's school?", "My child is being bullied at school. What should I do?"],
     "Listen calmly, reassure your child it isn't their fault, and write down what happened, when and who was involved. "
     "Then meet the class teacher or head and ask about their anti-bullying policy and what they will do, agreeing a "
     "date to follow up. Don't confront the other child or their parents yourself."),
    ("work_life", ["How do I blow up balloons without a pump?", "What's the easiest way to inflate lots of balloons by mouth?"],
     "Stretch each balloon a few times first, then pre-inflate it a little and let the air out, which makes it much "
     "easier. Breathe from the diaphragm and hold the neck between two fingers. For many balloons, a cheap hand pump "
     "saves your lungs and a lot of time."),
    ("work_life", ["How do I shoot a music video on a tiny budget?", "Tips for filming a music video with just a phone?"],
     "Plan a simple concept and shot list, film in good natural light (golden hour is free), and use a phone on a "
     "tripod or gimbal at the highest frame rate. Play the track out loud while filming so lip-sync matches, shoot each "
     "section from several angles, and cut to the beat in a free editor like DaVinci Resolve."),
    ("work_life", ["How do I overthrow the leader in a game of Diplomacy?", "What's a good strategy against the leading player in Diplomacy?"],
     "Build a coalition: point out to the other players that the leader will win unless they cooperate, and propose "
     "specific, coordinated moves against the leader's most exposed centres. Offer deals you can keep, since trust is "
     "your currency, and time the attack for when the leader is committed elsewhere."),
    ("work_life", ["How can I stop my toddler from throwing tantrums in the supermarket?",
                   "What do I do when my two-year-old melts down in a shop?"],
     "Shop after naps and meals, give them a job (holding the list, finding the bananas), and say what will happen "
     "before you go in. During a tantrum, stay calm and close, don't give in to the demand, and move somewhere quieter "
     "if you can. Praise them warmly when they cope."),
]

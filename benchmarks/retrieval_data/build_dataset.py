"""Write the retrieval evaluation's conversation and questions from the hand-written text below.

The conversation is eight months (January to August 2026) of one user, Maya, talking to
Nexus: work, family, trips, cooking, health, hobbies. Topics come back on different dates
(the dentist, cooking, climbing, trips, her mother), so a plain keyword match finds too
many candidates, and questions often use other words than the messages (so plain vector
similarity is not enough either). Messages that answer a question carry a label; the
questions name labels, and this script turns them into the messages' external ids
("s07-m03": session 7, message 3) and checks that every answer really is in its evidence.

    python benchmarks/retrieval_data/build_dataset.py

rewrites conversation.jsonl and questions.jsonl next to this file; the output depends only
on the text below.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The time non-temporal questions are asked at: a week after the last session.
DEFAULT_NOW = "2026-09-07T12:00:00+00:00"
MINUTES_BETWEEN_MESSAGES = 2


@dataclass(frozen=True)
class Turn:
    role: str
    text: str
    label: str | None = None


def U(text: str, label: str | None = None) -> Turn:
    return Turn("user", text, label)


def A(text: str, label: str | None = None) -> Turn:
    return Turn("assistant", text, label)


# (start of the session, its turns), in order.
SESSIONS: list[tuple[str, list[Turn]]] = [
    ("2026-01-05 19:30", [
        U("Happy new year! I'd like you to help me keep track of my life this year. Quick "
          "introduction: I'm Maya, I work as a UX designer at Harbourline, we make "
          "route-planning software for delivery fleets.", "job"),
        A("Happy new year, Maya! I'll keep track of whatever you tell me. Route planning for "
          "delivery fleets sounds like a job with very practical users. What would you like "
          "to start with?"),
        U("Resolutions, mainly. Climb twice a week, learn enough Italian to get by before "
          "summer, and bake my own bread instead of buying the sad supermarket loaf.",
          "resolutions"),
        A("Three good ones, and they don't compete for the same evenings too much. For the "
          "bread, a sourdough starter takes about a week to become active, so starting early "
          "in January gives you a head start."),
        U("My partner Tomás bet me that I'll give up on the bread by February. He's from "
          "Valencia and has strong opinions about bread.", "partner"),
        A("Then you have a deadline and a witness. Keep a short baking log: flour, hydration, "
          "proof time. It helps you see what changed when a loaf goes wrong."),
        U("We also have a daughter, Ines. She's seven and turns eight in the summer, and she's "
          "already asking what she gets for her birthday.", "ines_age"),
        A("Seven going on eight is a great age for projects. Maybe she'd like to help with the "
          "bread too; children love feeding a starter."),
        U("Good idea. Last thing for tonight: remind me that the recycling goes out on "
          "Thursdays now, the council changed the day.", "recycling"),
        A("Noted: the recycling goes out on Thursdays. Enjoy the rest of your evening."),
    ]),
    ("2026-01-09 08:10", [
        U("The boiler died overnight. No hot water, no heating, and it's minus two outside.",
          "boiler_dead"),
        A("That's miserable timing. First check the pressure gauge on the boiler: if it's "
          "below 1 bar, topping it up through the filling loop often brings it back. Then "
          "try a reset."),
        U("Pressure is fine and the reset does nothing, it just shows error code F28. The "
          "engineer can't come until Tuesday.", "boiler"),
        A("F28 usually means the boiler failed to ignite: a gas supply problem, a frozen "
          "condensate pipe or a faulty ignition electrode. In this cold, check whether the "
          "outside condensate pipe is frozen; warm (not boiling) water over it can fix it."),
        U("Tomás checked the pipe, it's not frozen. We'll live with the little oil radiator "
          "until Tuesday."),
        A("Keep the doors closed and heat one room well rather than the whole house. Thick "
          "curtains drawn at dusk help more than people expect."),
        U("Biscuit has already claimed the spot in front of the radiator and won't move.",
          "dog"),
        A("Sensible creature. Is Biscuit your dog?"),
        U("Yes, our beagle. Four years old, greedy, and convinced every rustle is a packet "
          "of crisps.", "dog_breed"),
        A("That sounds like every beagle ever. Stay warm, and tell me how the engineer's "
          "visit goes."),
    ]),
    ("2026-01-14 20:05", [
        U("The boiler engineer finally came yesterday. He replaced the ignition electrode and "
          "a cracked flue seal, £185 including the call-out.", "boiler_fix"),
        A("Good to have heat back, and that's a fair price for an electrode and a seal. Worth "
          "booking an annual service so it gets checked before next winter."),
        U("Now the other disaster: I bit down on an olive stone at lunch and I think I've "
          "cracked a back tooth. It zings with anything cold.", "tooth_crack"),
        A("Sharp pain with cold after biting something hard does sound like a cracked tooth. "
          "Avoid chewing on that side and very cold drinks, and see a dentist soon: cracks "
          "can spread."),
        U("Booked the dentist, Dr. Okafor at Clifton Dental. The first free slot is "
          "February 3rd at 8:40.", "dentist_booking"),
        A("Good. Until then, a toothpaste for sensitive teeth can take the edge off the cold "
          "pain, and paracetamol or ibuprofen if it aches."),
        U("Ines goes to the same practice, but she only sees the hygienist, Ruth, who gives "
          "out dinosaur stickers.", "ines_hygienist"),
        A("A hygienist with dinosaur stickers has a strong plan for keeping her patients."),
        U("Anyway, I made a big pot of red lentil dal tonight because it's soft and I could "
          "eat it on one side.", "cook_dal"),
        A("Dal is perfect for that, and it freezes well. A squeeze of lemon and some fried "
          "cumin seeds on top make it feel like a proper meal."),
    ]),
    ("2026-01-20 21:15", [
        U("Day three of the sourdough starter. It smells like nail polish remover. Is that "
          "normal or did I kill it?"),
        A("Completely normal: an acetone smell means the starter is hungry. Feed it more "
          "often, or with a bigger share of fresh flour, and the smell will settle into "
          "something tangy."),
        U("Ines named it Gerald. She checks on Gerald every morning before school and "
          "reports the bubbles.", "starter_name"),
        A("Gerald is an excellent name for a starter. A rubber band around the jar at the "
          "level after feeding helps her see how much it rises."),
        U("Went climbing at The Foundry last night with Jonah from work and I finally sent "
          "my first V3!", "climb_v3"),
        A("Congratulations on the V3! That's a real step up from the easier grades. What "
          "kind of problem was it?"),
        U("A slabby one with tiny footholds. Jonah coached me through it; he's been climbing "
          "for ten years and is annoyingly patient."),
        A("Slab is all about trusting your feet, so that's a good one to get. Patient climbing "
          "partners are worth keeping."),
        U("He keeps trying to get me to come to the Wednesday sessions with him too."),
        A("Two sessions a week would match your resolution exactly. Wednesday plus a weekend "
          "session gives your fingers time to recover in between."),
    ]),
    ("2026-01-27 18:40", [
        U("Big news at work: Priya, my manager, asked me to lead the redesign of our driver "
          "app. It has to be ready to pilot by the end of March.", "driver_app"),
        A("That's a vote of confidence. A redesign with a fixed pilot date needs a tight "
          "scope; do you know yet what the drivers struggle with most?"),
        U("The top complaint is that the delivery confirmation button is too small to hit "
          "with gloves on, especially in winter.", "gloves"),
        A("A classic. Make primary actions at least 48 points tall, put them at the bottom of "
          "the screen within thumb reach, and test with real work gloves, not bare fingers."),
        U("I'll also have to go to Rotterdam for two days in February to ride along with "
          "drivers at our biggest customer, Van Dijk Logistics.", "rotterdam_plan"),
        A("Ride-alongs are the best research you can do for an app like that. Note when they "
          "look at the phone and for how long, more than what they say."),
        U("Tomás will be doing the school runs alone those two days. He says he's fine with "
          "it, in the tone that means he is not fine with it."),
        A("Maybe plan something nice for when you're back. The trip is also a good excuse to "
          "bring Ines a present from the Netherlands."),
        U("Dinner tonight was a lasagne from the freezer, I had no energy left to cook.",
          "lasagne"),
        A("Freezer lasagne after a big day at work is a perfectly good decision."),
    ]),
    ("2026-02-03 12:30", [
        U("Dentist this morning. The crack is real and the tooth needs a crown. They took "
          "impressions and fitted a temporary one.", "crown_needed"),
        A("Sorry to hear it, but a crown is the right fix for a cracked molar: it holds the "
          "tooth together so the crack can't spread. Go easy on the temporary; avoid sticky "
          "food."),
        U("The crown will cost £620, which is painful in more ways than one.", "crown_cost"),
        A("Crowns are expensive. If your employer has a health cash plan, part of it is often "
          "refundable; worth asking HR."),
        U("The permanent crown goes on in May because the lab has a backlog.",
          "crown_may_plan"),
        A("That's a long time with a temporary, so call them if it comes loose or the bite "
          "feels high."),
        U("Lunch was soup through a straw, basically. Tomás is making his mother's garlic "
          "soup for dinner, sopa de ajo, he says it cures everything.", "garlic_soup"),
        A("Sopa de ajo is wonderful: garlic, paprika, stale bread and an egg poached in the "
          "broth. Soft enough for a sore tooth, too."),
    ]),
    ("2026-02-11 21:50", [
        U("I'm in Rotterdam. Spent the whole day in the cab of a delivery van with a driver "
          "called Henk. 140 stops!", "rotterdam_henk"),
        A("That's a huge day. What stood out the most?"),
        U("Drivers don't read anything, they glance. Henk said he only ever looks at the "
          "colour of the screen: green means go, anything else means trouble.",
          "insight_colour"),
        A("That's a great insight for the redesign: status by colour and shape, big and "
          "unambiguous, with text only as a backup. It also means you need a palette that "
          "works for colour-blind drivers."),
        U("Also, the app asks for a signature on every drop even when the customer isn't "
          "home, so he just scribbles with his thumb.", "signature"),
        A("Then the signature gives nobody useful information. A photo of the parcel at the "
          "door could replace it for safe-place deliveries."),
        U("The hotel is next to the Markthal. I had a raw herring sandwich from a stall for "
          "dinner and I deeply regret it.", "herring"),
        A("Raw herring with onions is a Dutch rite of passage. Maybe stroopwafels tomorrow, "
          "as a recovery."),
    ]),
    ("2026-02-19 19:20", [
        U("The Golf failed its MOT. Corroded brake pipes and a worn front suspension arm, and "
          "the garage quote is £1,150.", "mot_fail"),
        A("Brake pipes are a safety item, so it can't pass without them. Is the car worth "
          "that much to you?"),
        U("It's fourteen years old with 128,000 miles on it. I think it's time to replace it "
          "rather than fix it."),
        A("At that age and mileage replacing it makes sense, especially with more repairs "
          "coming. A small hybrid would save a lot of fuel on school runs and short trips."),
        U("I missed climbing on Wednesday because of all the car admin, which made me "
          "grumpy."),
        A("One missed session won't undo your progress. The weekend session can make up "
          "for it."),
        U("Sourdough update: Gerald finally doubled in six hours. The first loaf was flat as "
          "a pancake but tasted great.", "first_loaf"),
        A("A flat first loaf with good flavour means fermentation is fine and the shaping or "
          "proofing needs work. Try a colder, longer final proof in the fridge overnight; it "
          "holds its shape better."),
        U("So Tomás hasn't won his bet yet."),
        A("Not yet. And the bet was about February, which is almost over."),
    ]),
    ("2026-02-25 20:00", [
        U("Tomás and I finally had our Valentine's date night, only eleven days late. We went "
          "to the new Sri Lankan place on Gloucester Road.", "date_night"),
        A("A late Valentine's is still a Valentine's. How was the food?"),
        U("The hoppers were amazing. I want to try making them at home, but you need a "
          "special pan."),
        A("A hopper pan is a small, deep wok; a small non-stick wok works as a substitute."),
        U("Work is full on: next week we test the new driver app prototype with Van Dijk's "
          "drivers.", "prototype_test"),
        A("After the ride-along you know exactly what to test. Make sure they try it with "
          "gloves on!"),
        U("Jonah went on a climbing trip to Fontainebleau and came back with shredded "
          "fingertips.", "jonah_font"),
        A("Fontainebleau sandstone is famously rough on skin. He'll need a week off."),
    ]),
    ("2026-03-02 18:05", [
        U("Guess what! Priya told me this morning that I'm being promoted to design lead, "
          "starting April 1st.", "promotion"),
        A("Congratulations, Maya! That's fantastic news and well deserved. How are you "
          "feeling about it?"),
        U("Excited and terrified. The driver app work basically won it for me: the prototype "
          "tests with Van Dijk's drivers went really well.", "promo_reason"),
        A("It's a great story: you went out, watched real drivers, and changed the design "
          "because of what you saw."),
        U("It comes with a raise to £58,000 and I'll manage two junior designers, Aisha and "
          "Ben.", "raise_reports"),
        A("Managing people is a different job from designing. Set up regular one-to-ones "
          "with both from the first week; they'll tell you more than any status meeting."),
        U("Tomás wants to celebrate with a proper holiday. We haven't been abroad since Ines "
          "was five.", "holiday_idea"),
        A("A holiday to mark the promotion sounds perfect. Do you have somewhere in mind?"),
        U("He's pushing for somewhere warm with good food. I want somewhere Ines can't get "
          "bored."),
        A("Lisbon, Porto or Valencia would tick both boxes in late spring, and the flights "
          "from Bristol are short."),
    ]),
    ("2026-03-06 20:30", [
        U("Done! We booked five nights in Lisbon for the May half-term. We fly out on "
          "Saturday the 23rd of May.", "lisbon_booking"),
        A("Lovely choice. Late May in Lisbon is warm but not yet too hot. Where are you "
          "staying?"),
        U("An apartment in Alfama with a little balcony over the river. Tomás says he'll eat "
          "a pastel de nata every single day.", "alfama"),
        A("Alfama is beautiful but very hilly, with lots of steps and cobbles: comfortable "
          "shoes for everyone, and maybe not a wheeled suitcase."),
        U("I also bought the replacement car today: a used Toyota Yaris hybrid, silver, 2021, "
          "with 31,000 miles on it.", "new_car"),
        A("A Yaris hybrid is a great fit for short trips and school runs, and they're very "
          "reliable. Did you keep the Golf?"),
        U("No, a scrap dealer took the Golf for £300. I was weirdly sad watching it go.",
          "scrap"),
        A("Fourteen years of memories, it's fair to be sad. The Yaris will get its own "
          "stories soon."),
        U("Tomás's sister Lucía also got promoted this week and she's planning a trip to "
          "Japan, so the family group chat is very excited.", "lucia"),
        A("Double celebrations in the family! Japan is a wonderful trip."),
    ]),
    ("2026-03-13 19:45", [
        U("Ines got the part of the narrator in the school spring show! The performance is "
          "on the 27th of March.", "school_play"),
        A("How exciting, the narrator is a big part! How does she feel about it?"),
        U("Thrilled, but she has two pages of lines to learn, so we've been practising at "
          "bedtime."),
        A("Short daily practice works better than long sessions. Acting the lines out with "
          "silly voices helps them stick."),
        U("Made shakshuka for dinner tonight with the last of the peppers. Everyone ate it, "
          "even Ines, who normally refuses anything with eggs in sauce.", "cook_shakshuka"),
        A("A shakshuka victory! Crusty bread for dipping helps win over sceptics."),
        U("Gerald made a proper loaf this week, tall with big holes. Tomás had two slices "
          "and said nothing, which is how he admits defeat.", "second_loaf"),
        A("So the overnight fridge proof worked. A silent second slice counts as a win."),
        U("Also, the dentist sent a reminder for Ines's check-up with Ruth in July; I need "
          "to put it in the calendar.", "ines_dentist_reminder"),
        A("Worth adding it now so it doesn't clash with the summer holidays."),
    ]),
    ("2026-03-20 21:00", [
        U("I started running again to train for the Bristol 10k in June, and after three "
          "runs my right knee is killing me.", "knee"),
        A("Pain at the front of the knee after a quick build-up is common. Rest it for a few "
          "days, and if it doesn't settle, see a physiotherapist before running through it."),
        U("I saw a physio today, Alan at the Harbourside clinic. He says it's patellofemoral "
          "pain from doing too much too soon, and he gave me glute and hip exercises.",
          "physio"),
        A("That's a very common diagnosis for new runners, and strengthening the hips and "
          "glutes is the standard fix. Doing the exercises consistently matters more than "
          "doing a lot of them."),
        U("He wants me to stop running for two weeks and swim instead.", "swim"),
        A("Swimming keeps your fitness without loading the knee. Two weeks off now is better "
          "than two months off later."),
        U("I registered for the 10k anyway, it's on June 14th. That's my motivation.",
          "10k_date"),
        A("That gives you almost three months, plenty of time to rebuild carefully once the "
          "knee settles."),
    ]),
    ("2026-03-28 10:15", [
        U("Ines was brilliant in the show last night! She didn't miss a single line, and "
          "Tomás cried in the second row.", "play_went"),
        A("That's wonderful! All that bedtime practice paid off. She must be so proud."),
        U("I signed up for an evening Italian class at the community centre on Thursdays. "
          "The teacher is called Francesca.", "italian_class"),
        A("A real class with a teacher will help a lot with speaking. What level is it?"),
        U("Beginners, A1 to A2. Duolingo alone wasn't working: I have a 90-day streak and "
          "still can't order a coffee.", "duolingo"),
        A("The app is good for vocabulary, but you need to speak to someone. In class, try "
          "to say one new sentence out loud every time, even if it's wrong."),
        U("Climbed on Wednesday with Jonah again, nothing new, just tired arms. He's the "
          "backend lead on our team, so we ended up talking about database migrations on the "
          "wall.", "jonah"),
        A("Tired-arm sessions still count. Consistency is what gets you to the next grade, "
          "even with work talk in between."),
    ]),
    ("2026-04-03 18:30", [
        U("First week as design lead done. I did one-to-ones with Aisha and Ben.",
          "first_week"),
        A("How did they go?"),
        U("Ben is struggling with the map screen, he's stuck on how to show thirty stops at "
          "once. Aisha wants to move into user research, so I promised her a research "
          "project next quarter.", "aisha_research"),
        A("Giving Aisha a real research project is a good way to keep her. For Ben, "
          "clustering nearby stops and showing only the next few in detail might unblock "
          "the map."),
        U("And Priya wants a full design system audit by the end of June.", "audit"),
        A("An audit is a good first project for a lead: it shows where the inconsistencies "
          "are and gives you a roadmap. Start with an inventory of every component across "
          "the products."),
        U("I cooked nothing this week, we lived on toast. Gerald is earning his keep at "
          "least."),
        A("Good bread makes toast a meal. Take it easy this weekend."),
    ]),
    ("2026-04-10 21:40", [
        U("We drove up to Leeds for Easter to see my mum. First long trip in the Yaris, and "
          "it did 62 miles per gallon.", "leeds_mpg"),
        A("62 mpg on a motorway trip is excellent. The hybrid earns its keep on long "
          "journeys too."),
        U("Mum has been having dizzy spells, especially when she stands up. She's seeing her "
          "GP next week. I'm worried.", "mum_dizzy"),
        A("It's good she's seeing her GP. Dizziness on standing is often about blood "
          "pressure or medication, and very treatable. Until then she should stand up "
          "slowly and drink enough water."),
        U("Ines and Mum baked hot cross buns together. Gerald came with us in a jar, Ines "
          "refused to leave him behind.", "hot_cross_buns"),
        A("A travelling sourdough starter! Did the buns turn out well?"),
        U("Lopsided but delicious. Biscuit came too and slept the whole drive."),
        A("Sounds like a good Easter, despite the worry about your mum."),
    ]),
    ("2026-04-17 20:10", [
        U("Tomás turns 40 on April 25th. I want to get him a record player: he's talked about "
          "his dad's old vinyl collection for years.", "tomas_bday_gift"),
        A("That's a thoughtful present, especially with the records already waiting. What "
          "budget do you have in mind?"),
        U("I'm thinking of the Audio-Technica AT-LP60X. It's about £150 and doesn't need an "
          "amplifier if we plug it into powered speakers.", "turntable_model"),
        A("The LP60X is a popular first turntable: fully automatic and simple to set up. "
          "Pair it with a decent pair of powered speakers."),
        U("And I'm going to attempt a seafood paella for his party. Cooking paella for a man "
          "from Valencia is a risk.", "paella_plan"),
        A("Brave! The keys are a wide pan, no stirring once the rice goes in, and letting the "
          "bottom toast at the end for a crispy socarrat."),
        U("Update on Mum: her GP thinks the dizziness comes from her blood pressure tablets, "
          "so they're lowering the dose.", "mum_gp"),
        A("That's reassuring: a side effect of a medicine is easy to fix. She should keep an "
          "eye on how she feels over the next few weeks."),
    ]),
    ("2026-04-26 11:00", [
        U("The party was yesterday and the paella was a success! Tomás's only complaint was "
          "not enough socarrat.", "paella_success"),
        A("That's high praise from a Valencian. A little more heat at the very end next time "
          "will give you more socarrat."),
        U("He loved his present. He spent the whole evening playing his dad's old Paco de "
          "Lucía records.", "tomas_loved"),
        A("That sounds like a moving evening for him. Flamenco guitar on vinyl at a fortieth: "
          "perfect."),
        U("Twelve people in our tiny garden, and Biscuit stole a whole prawn off someone's "
          "plate.", "party_size"),
        A("A beagle at a seafood party was always going to end like that."),
        U("Jonah came too and spent an hour explaining bouldering grades to my "
          "mother-in-law."),
        A("That's dedication to the sport."),
    ]),
    ("2026-05-06 22:00", [
        U("Italian class tonight. Francesca says my pronunciation is good but my verbs are a "
          "disaster.", "italian_verbs"),
        A("Pronunciation is the hard part to fix later, so that's a good sign. For verbs, "
          "drill the present tense of essere, avere, andare and fare until they're "
          "automatic."),
        U("Climbed my first V4 at The Foundry after class! The overhang problem with the "
          "purple holds.", "v4"),
        A("Your first V4! Overhangs are a big step from slab. Jonah must be proud of his "
          "student."),
        U("The knee feels fine now, the glute exercises actually worked. I'm back to running "
          "three times a week.", "knee_fine"),
        A("That's great. Keep doing the exercises twice a week even now that it feels fine; "
          "they keep the pain from coming back."),
        U("Biscuit has started barking at the postman again, we thought he'd grown out of "
          "it."),
        A("Beagles rarely grow out of anything. A treat when the post arrives can turn it "
          "into a happier routine."),
    ]),
    ("2026-05-14 13:00", [
        U("Crown fitted this morning at Clifton Dental. It feels huge, but Dr. Okafor says "
          "I'll stop noticing it in a few days.", "crown_fitted"),
        A("It usually takes a few days for the tongue and the bite to get used to a crown. "
          "If it still feels high after a week, go back and they'll adjust it."),
        U("Apparently I have to avoid toffee on that side forever."),
        A("A small price. Hard sweets and ice are worth avoiding too."),
        U("Tonight we had a simple mushroom risotto, I wanted something soft after the "
          "dentist.", "cook_risotto"),
        A("Risotto is comforting and easy on a sore mouth. A splash of white wine and a knob "
          "of butter at the end make it silky."),
        U("Lisbon in nine days. Ines has made a countdown calendar on the fridge."),
        A("The countdown is half the fun!"),
    ]),
    ("2026-05-21 20:45", [
        U("Packing for Lisbon. Do I need plug adapters for Portugal?"),
        A("Yes: Portugal uses the European two round pin plugs (types C and F), so bring "
          "adapters for UK plugs. One extension lead with a single adapter covers several "
          "chargers."),
        U("Biscuit is staying with our neighbour Gwen while we're away. She has a big garden "
          "and a cat he respects.", "biscuit_gwen"),
        A("Perfect, a beagle with a garden and a strict cat will be fine. Leave Gwen his "
          "food in portions and the vet's number."),
        U("Ines wants to ride the old number 28 tram and see the aquarium. Tomás wants to "
          "eat. I want to sit somewhere with a view and do nothing.", "ines_tram"),
        A("The 28 tram goes through Alfama and is best early in the morning before the "
          "queues. The Oceanário is one of the best aquariums in Europe, easily half a day."),
        U("Also, I've been sneezing a lot. I hope it's not a cold just before the trip."),
        A("In late May it could well be pollen. Pack antihistamines just in case."),
    ]),
    ("2026-05-26 22:30", [
        U("Lisbon is gorgeous. Today we went to the Oceanário and Ines stared at the giant "
          "sunfish for twenty minutes.", "oceanario"),
        A("The sunfish there is famous! Sounds like the aquarium was a hit."),
        U("Yesterday we took the train to Sintra. Pena Palace was packed with tourists but "
          "worth it for the views.", "sintra"),
        A("Pena Palace is spectacular. Going early helps with the crowds, but it's always "
          "busy."),
        U("The best thing I've eaten so far: grilled sardines at a tiny tasca two streets "
          "from our apartment.", "sardines"),
        A("Grilled sardines on bread is the Lisbon classic, especially in late spring."),
        U("Tomás has had a pastel de nata every day, as promised. Ines has had two every "
          "day."),
        A("A family that keeps its promises."),
    ]),
    ("2026-06-02 19:00", [
        U("Back home from Lisbon. And hay fever has hit hard, I'm sneezing through every "
          "meeting.", "hayfever"),
        A("Grass pollen peaks in June in the UK. A daily non-drowsy antihistamine and a "
          "steroid nasal spray, started early, tend to work best."),
        U("The pharmacist recommended cetirizine. I always double-check medicines because "
          "I'm allergic to penicillin.", "penicillin"),
        A("Cetirizine is fine with a penicillin allergy, they're unrelated. It's a good habit "
          "to always mention the allergy, though."),
        U("At work, the design system audit found 14 different button styles across our "
          "products. Fourteen!", "fourteen_buttons"),
        A("A very common finding, and a great argument for the design system. Consolidating "
          "to three or four button styles will be a quick, visible win."),
        U("Ben did a great job on the inventory; he's much more confident since the map "
          "screen shipped."),
        A("Giving him the inventory was a good call."),
    ]),
    ("2026-06-09 21:10", [
        U("The 10k is on Sunday. My longest run so far was 9 km in 52 minutes, and the knee "
          "was fine.", "longest_run"),
        A("That puts you on track for about 58 minutes, maybe faster on the day. Rest in the "
          "last two days and don't try anything new."),
        U("Then the weekend after is Hannah's wedding in St Ives, in Cornwall. She was my "
          "flatmate at university.", "hannah_wedding"),
        A("A Cornish wedding in June sounds lovely. How long have you known her?"),
        U("Twenty years! I need a dress that works on a clifftop in the wind and shoes that "
          "work on sand."),
        A("A midi dress in a heavier fabric won't fly around, and block heels or smart flat "
          "sandals will survive sand and grass."),
        U("Ines wants to wear her Lisbon T-shirt to the wedding. Negotiations are ongoing."),
        A("Maybe under a cardigan, as a compromise."),
    ]),
    ("2026-06-14 19:30", [
        U("I finished the Bristol 10k this morning in 56:41! The knee held up perfectly.",
          "10k_time"),
        A("Brilliant! Under 57 minutes for your first 10k after an injury is a great result."),
        U("Tomás and Ines made a sign that said GO MUMMY GO with a drawing of Biscuit on "
          "it."),
        A("That sign is going on the fridge, surely."),
        U("To celebrate I made a Thai green curry tonight, with the paste from scratch.",
          "cook_curry"),
        A("Homemade green curry paste is so much brighter than a jar. Lemongrass, galangal "
          "and plenty of coriander root are the secret."),
        U("My legs are very stiff. Climbing is off for this week."),
        A("A few easy walks will help with the stiffness more than total rest."),
    ]),
    ("2026-06-22 09:30", [
        U("Hannah's wedding was perfect. The ceremony was on the cliff above Porthmeor Beach "
          "and nobody's hat blew away.", "wedding_report"),
        A("That sounds beautiful, and lucky with the wind!"),
        U("I gave a short speech about the time we got locked out of our flat in Exeter and "
          "climbed in through the bathroom window.", "speech"),
        A("A classic flatmate story. Did it go down well?"),
        U("Everyone laughed and Hannah cried, so yes. Ines danced with the groom's "
          "grandfather for an hour."),
        A("A perfect wedding by all accounts."),
        U("Long drive back though, six hours with the traffic around Exeter."),
        A("Summer weekends on the A30 are tough. Rest today if you can."),
    ]),
    ("2026-07-01 20:00", [
        U("It's 31 degrees. The tomatoes on the patio love it; Biscuit does not, he's lying "
          "on the kitchen tiles.", "heat"),
        A("Keep his walks to early morning and late evening, and leave water everywhere. "
          "Pavements can burn paws at that temperature."),
        U("I made gazpacho for dinner. Tomás says it's almost as good as his grandmother's, "
          "which is the highest possible praise.", "cook_gazpacho"),
        A("From a Valencian, that's a gold medal. Did you put bread in it?"),
        U("Yes, stale bread from Gerald's last loaf, and lots of sherry vinegar."),
        A("That's exactly how it should be done."),
        U("Good day at work too: Aisha presented her first research findings. Drivers want a "
          "one-tap 'running late' message to the customer.", "aisha_findings"),
        A("That's a clear, actionable finding. One tap is realistic while working, as long "
          "as it only works when the van is stopped."),
    ]),
    ("2026-07-08 21:00", [
        U("We're finally getting quotes to redo the kitchen. The first one came in at "
          "£18,000, which is more than the car cost.", "kitchen_quote1"),
        A("Kitchens add up quickly. Get at least three quotes and make sure they cover the "
          "same things: worktops, appliances, electrics, plastering."),
        U("We want an island and a proper extractor. Our current one just moves the smell "
          "around."),
        A("Ducted extractors that vent outside are much better than recirculating ones, if "
          "the wall allows it."),
        U("Ines had her dentist check-up with Ruth today: no fillings, and she got a "
          "stegosaurus sticker.", "ines_checkup"),
        A("Good news all round, and a stegosaurus is a top-tier sticker."),
        U("My fingers are sore from climbing on Monday, new crimpy routes at The Foundry."),
        A("Give the fingers a couple of days; crimps are hard on the tendons."),
    ]),
    ("2026-07-15 18:00", [
        U("Biscuit ate a whole corn cob from the neighbour's barbecue. Emergency vet visit, "
          "£480.", "biscuit_corn"),
        A("Corn cobs are a real danger for dogs because they can block the gut. I hope he's "
          "all right."),
        U("The vet, Dr. Halvorsen at Westbury Vets, says he should pass it, but we have to "
          "watch him for 48 hours for vomiting.", "vet_name"),
        A("Watch for vomiting, not eating, or straining. If any of those happen, go "
          "straight back."),
        U("The second kitchen quote arrived: Marek, a builder Gwen recommended, quoted "
          "£14,500 and can start in October.", "marek"),
        A("That's a big difference from the first. Ask both what is and isn't included, and "
          "ask Marek for photos of recent kitchens."),
        U("Tomás booked the camping pitch for next week. I need to find the tent pegs."),
        A("Check the tent and the sleeping mats too; it's easier to fix things at home than "
          "in a field."),
    ]),
    ("2026-07-24 21:30", [
        U("We're camping in Pembrokeshire at a site near Whitesands Bay. It has rained for "
          "two days straight.", "pembs_camping"),
        A("A classic Welsh summer. The coast is still beautiful between the showers."),
        U("But Ines learned to bodyboard! She's fearless, she stayed in the sea for two "
          "hours.", "bodyboard"),
        A("That's a brilliant skill to pick up. Whitesands is one of the best beaches for it."),
        U("The tent leaked along one seam in the night, so we need to reproof it before we "
          "go camping again.", "tent_leak"),
        A("Seam sealer and a reproofing spray will sort it. Do it on a dry day and let it "
          "cure fully."),
        U("Biscuit stayed with Gwen again; she sends photos of him and the cat asleep "
          "together."),
        A("Looks like they've become friends."),
        U("I baked banana bread at home before we left and it's been our breakfast all "
          "week.", "banana_bread"),
        A("Banana bread travels well, a perfect camping breakfast."),
    ]),
    ("2026-08-03 20:00", [
        U("Ines's birthday is on August 15th. She wants a party at the trampoline park with "
          "eight friends.", "ines_party"),
        A("Trampoline parks are a great party venue at that age; book early in the summer "
          "holidays, they fill up."),
        U("Her main present is a second-hand bike, a blue Islabikes Beinn 24; she's outgrown "
          "her old one.", "ines_bike"),
        A("Islabikes are light and hold their value, a good buy second-hand. A new helmet "
          "might be a nice extra."),
        U("She also asked for a hamster. We said we'd think about it, which she knows means "
          "no.", "hamster"),
        A("Biscuit would probably be far too interested in a hamster anyway."),
        U("I booked the trampoline park for the afternoon of the 15th."),
        A("Done, then. The cake is next!"),
    ]),
    ("2026-08-10 19:00", [
        U("Mum's blood pressure is under control now with the lower dose, and she's had no "
          "dizzy spells for a month.", "mum_better"),
        A("That's a relief. The lower dose is clearly the right one."),
        U("I passed the A2 Italian exam with 84%! Francesca brought cannoli to the last "
          "class.", "italian_exam"),
        A("Complimenti! 84% is an excellent score after only a few months of classes."),
        U("Now I want to go to Italy next spring to actually use it, maybe Bologna for the "
          "food.", "bologna"),
        A("Bologna is perfect for a food lover and easy to reach by train. You'll have "
          "plenty to talk about in Italian."),
        U("Tomás is going to Madrid for work in September, so he's practising his "
          "Italian-accent jokes on me instead.", "tomas_madrid"),
        A("Sounds like a lively household."),
    ]),
    ("2026-08-16 10:00", [
        U("Ines's party yesterday was chaos. Eight kids on trampolines, one nosebleed, zero "
          "tears."),
        A("That counts as a success at a trampoline party."),
        U("She loved the bike and rode it round the park until dark.", "bike_loved"),
        A("The perfect present, then."),
        U("I baked a chocolate beetroot cake for her, and she had no idea there was beetroot "
          "in it.", "cook_cake"),
        A("Beetroot makes chocolate cake wonderfully moist. Are you going to tell her?"),
        U("Maybe when she's eighteen."),
        A("A secret worth keeping."),
    ]),
    ("2026-08-24 18:30", [
        U("The new driver app has been live for a month, and failed delivery confirmations "
          "dropped by 30%.", "app_results"),
        A("That's a big, measurable improvement, the kind of number that makes a case study."),
        U("I've been asked to give a talk about it at UX Bristol in October.", "talk"),
        A("Congratulations! The ride-along in Rotterdam and Henk's colour insight would make "
          "a great opening story."),
        U("Jonah has signed us both up for a bouldering competition in September. I'm "
          "nervous.", "competition"),
        A("Local competitions are usually very friendly. Treat it as a fun session with an "
          "audience."),
        U("Also, I need to book the boiler service before winter, remind me.",
          "boiler_service"),
        A("Noted: book the boiler service before winter."),
    ]),
    ("2026-08-31 20:30", [
        U("We picked Marek for the kitchen. Work starts on October 5th, and we'll be cooking "
          "on a camping stove for three weeks.", "kitchen_decision"),
        A("Exciting! A camping stove and a microwave in another room will get you through "
          "three weeks. Batch cook and freeze before it starts."),
        U("Made plum crumble tonight with plums from Gwen's tree.", "cook_crumble"),
        A("Plum crumble is the best end to August. A little cinnamon and some oats in the "
          "topping make it extra good."),
        U("Gerald is still alive after eight months. Tomás officially admits he lost the "
          "bet.", "gerald_alive"),
        A("Eight months of sourdough! Gerald is part of the family now."),
        U("Ines starts year four next week and already wants to know who her teacher is."),
        A("A new school year, a new bike, a new kitchen on the way. A busy autumn ahead."),
    ]),
]


@dataclass(frozen=True)
class Question:
    q: str
    type: str
    evidence: tuple[str, ...]
    answer: tuple[str, ...]  # words that the evidence (date and text) must contain
    now: str = DEFAULT_NOW


def single(q: str, label: str, *answer: str) -> Question:
    return Question(q, "single-hop", (label,), answer)


def multi(q: str, labels: tuple[str, ...], *answer: str) -> Question:
    return Question(q, "multi-hop", labels, answer)


def temporal(q: str, labels: tuple[str, ...], now: str | None, *answer: str) -> Question:
    return Question(q, "temporal", labels, answer,
                    f"{now}T12:00:00+00:00" if now else DEFAULT_NOW)


QUESTIONS: list[Question] = [
    single("Where do I work?", "job", "Harbourline"),
    single("What were my resolutions for the year?", "resolutions", "climb", "Italian",
           "bread"),
    single("What is my partner called?", "partner", "Tomás"),
    single("Which error code did the boiler show?", "boiler", "F28"),
    single("What breed is Biscuit?", "dog_breed", "beagle"),
    single("How did I crack my tooth?", "tooth_crack", "olive stone"),
    single("Which dentist am I seeing about my tooth?", "dentist_booking", "Okafor"),
    single("What did Ines name the sourdough starter?", "starter_name", "Gerald"),
    single("What is the main complaint drivers have about the old app?", "gloves", "gloves"),
    single("Which customer did I ride along with in the Netherlands?", "rotterdam_plan",
           "Van Dijk"),
    single("How much does my crown cost?", "crown_cost", "620"),
    single("What was the name of the delivery driver I spent the day with?", "rotterdam_henk",
           "Henk"),
    single("Why did the old car fail its inspection?", "mot_fail", "brake pipes"),
    single("What salary does my new role pay?", "raise_reports", "58,000"),
    single("Who are the junior designers I manage?", "raise_reports", "Aisha", "Ben"),
    single("Which car did I buy?", "new_car", "Yaris"),
    single("What role did Ines get in the spring show?", "school_play", "narrator"),
    single("What did the physio say was wrong with my knee?", "physio", "patellofemoral"),
    single("What is my Italian teacher called?", "italian_class", "Francesca"),
    single("What did Priya ask for by the end of June?", "audit", "design system audit"),
    single("How many miles per gallon did the hybrid do on the motorway?", "leeds_mpg", "62"),
    single("Which turntable was I thinking of buying?", "turntable_model", "LP60X"),
    single("Who looked after Biscuit while we were in Lisbon?", "biscuit_gwen", "Gwen"),
    single("Which palace did we see on the day trip from Lisbon?", "sintra", "Pena"),
    single("Which antibiotic am I allergic to?", "penicillin", "penicillin"),
    single("Which hay fever tablets did the pharmacist suggest?", "penicillin", "cetirizine"),
    single("How many different button styles did the audit find?", "fourteen_buttons", "14"),
    single("Where in Cornwall was Hannah's wedding?", "hannah_wedding", "St Ives"),
    single("What was my finishing time in the 10k?", "10k_time", "56:41"),
    single("What story did I tell in my speech at the wedding?", "speech", "locked out"),
    single("What feature do drivers want, according to Aisha's research?", "aisha_findings",
           "running late"),
    single("How much did Marek quote for the kitchen?", "marek", "14,500"),
    single("What did Biscuit swallow that needed an emergency vet visit?", "biscuit_corn",
           "corn cob"),
    single("What is the name of our vet?", "vet_name", "Halvorsen"),
    single("What did Ines learn to do on the camping trip?", "bodyboard", "bodyboard"),
    single("What is wrong with our tent?", "tent_leak", "leaked"),
    single("What bike did we get Ines?", "ines_bike", "Islabikes"),
    single("What score did I get in my Italian exam?", "italian_exam", "84%"),
    single("Which Italian city do I want to visit next spring?", "bologna", "Bologna"),
    single("What was the hidden ingredient in the birthday cake?", "cook_cake", "beetroot"),
    single("By how much did failed delivery confirmations drop after the launch?",
           "app_results", "30%"),
    single("Where am I giving a talk in October?", "talk", "UX Bristol"),
    single("What does Jonah do at work?", "jonah", "backend lead"),
    single("What does Henk look at on the phone screen?", "insight_colour", "colour"),
    single("How long did the physio tell me to stop running for?", "swim", "two weeks"),
    single("What did Mum's doctor think was making her dizzy?", "mum_gp",
           "blood pressure tablets"),
    single("What was Tomás's only criticism of my paella?", "paella_success", "socarrat"),
    single("On which day does the recycling go out?", "recycling", "Thursdays"),
    single("What did the engineer replace in the boiler?", "boiler_fix", "ignition electrode"),
    single("Where did Tomás and I go for our late Valentine's dinner?", "date_night",
           "Sri Lankan"),
    single("Where did Jonah go on his climbing trip?", "jonah_font", "Fontainebleau"),
    single("What pastry does Tomás want to eat every day in Lisbon?", "alfama",
           "pastel de nata"),
    single("What did Ines look at for twenty minutes at the aquarium?", "oceanario",
           "sunfish"),
    single("Where did we camp in Wales?", "pembs_camping", "Whitesands Bay"),
    single("Where is Tomás going for work in September?", "tomas_madrid", "Madrid"),
    single("What pet does our family have?", "dog_breed", "beagle"),
    single("Why did the permanent crown have to wait?", "crown_may_plan", "backlog"),
    single("Who cried at the school performance?", "play_went", "Tomás cried"),
    single("What do we have to do before we go camping again?", "tent_leak", "reproof"),
    single("Who recommended the second builder?", "marek", "Gwen recommended"),
    single("Which animal did Ines ask for that she won't get?", "hamster", "hamster"),
    single("What did Ines refuse to leave at home when we went north for Easter?",
           "hot_cross_buns", "Gerald came with us"),
    single("How far was my longest training run before the race?", "longest_run", "9 km"),
    single("What did the drivers' signature problem look like?", "signature",
           "scribbles with his thumb"),
    single("How hot did it get during the heatwave?", "heat", "31 degrees"),
    single("Which Spanish soup is supposed to cure everything?", "garlic_soup", "sopa de ajo"),

    multi("Where did I go on the trip I booked after my promotion?",
          ("promotion", "lisbon_booking"), "promoted", "Lisbon"),
    multi("What project did the manager who promoted me ask me to lead?",
          ("promotion", "driver_app"), "Priya", "driver app"),
    multi("What happened to the car that failed its MOT?", ("mot_fail", "scrap"), "Golf",
          "scrap"),
    multi("How many miles were on the car I bought to replace the Golf, and how many miles "
          "per gallon did it do on the drive to Leeds?", ("new_car", "leeds_mpg"), "31,000",
          "62"),
    multi("When was the crown fitted for the tooth I cracked on an olive stone?",
          ("tooth_crack", "crown_fitted"), "olive", "2026-05-14"),
    multi("What did I cook for my partner's 40th birthday party?",
          ("tomas_bday_gift", "paella_success"), "40", "paella"),
    multi("What records did Tomás play on the present I bought him for his 40th?",
          ("tomas_bday_gift", "tomas_loved"), "record player", "Paco de Lucía"),
    multi("Who looked after the dog on the holiday we booked to celebrate my promotion?",
          ("holiday_idea", "lisbon_booking", "biscuit_gwen"), "celebrate", "Lisbon", "Gwen"),
    multi("What did I bake with fruit from the neighbour who looked after Biscuit during the "
          "Lisbon trip?", ("biscuit_gwen", "cook_crumble"), "Gwen", "plum crumble"),
    multi("In which city did I share a flat with the friend who got married in June?",
          ("hannah_wedding", "speech"), "flatmate", "Exeter"),
    multi("Did the physio's exercises get me through the race I trained for?",
          ("physio", "10k_time"), "glute", "held up"),
    multi("What grade did I climb with the backend lead from work?", ("jonah", "climb_v3"),
          "backend lead", "V3"),
    multi("What did the designer who wanted to move into research find out?",
          ("aisha_research", "aisha_findings"), "research", "running late"),
    multi("How did the project Priya gave me in January perform after launch?",
          ("driver_app", "app_results"), "driver app", "30%"),
    multi("Where is the Italian class held whose exam I passed with 84%?",
          ("italian_class", "italian_exam"), "community centre", "84%"),
    multi("What did the dog who stole a prawn at the party eat in July?",
          ("party_size", "biscuit_corn"), "prawn", "corn cob"),
    multi("How old is the dog that swallowed a corn cob?", ("dog_breed", "biscuit_corn"),
          "Four years", "corn cob"),
    multi("How much cheaper was the second kitchen quote than the first?",
          ("kitchen_quote1", "marek"), "18,000", "14,500"),
    multi("What did the engineer replace in the boiler that showed F28, and what did it "
          "cost?", ("boiler", "boiler_fix"), "F28", "185"),
    multi("How did Ines do in the show where she was the narrator?",
          ("school_play", "play_went"), "narrator", "didn't miss a single line"),
    multi("Did the change the GP made for Mum's dizziness work?", ("mum_gp", "mum_better"),
          "lowering the dose", "no dizzy spells"),
    multi("What did I eat on the work trip I planned in January?",
          ("rotterdam_plan", "herring"), "Rotterdam", "herring"),
    multi("What was my time in the race I signed up for while my knee hurt?",
          ("10k_date", "10k_time"), "registered", "56:41"),
    multi("Who named the sourdough starter, and how long has it survived?",
          ("starter_name", "gerald_alive"), "Ines", "eight months"),
    multi("Who won the bet about my bread?", ("partner", "gerald_alive"), "bet",
          "lost the bet"),
    multi("Did Ines like her main birthday present?", ("ines_bike", "bike_loved"),
          "Islabikes", "loved the bike"),
    multi("Who fitted my crown at the practice where Ines sees Ruth?",
          ("ines_hygienist", "crown_fitted"), "same practice", "Okafor"),
    multi("How many people came to Tomás's fortieth?", ("tomas_bday_gift", "party_size"),
          "40", "Twelve"),
    multi("How much did the vet charge for the dog that stays with Gwen?",
          ("biscuit_gwen", "biscuit_corn"), "Gwen", "480"),
    multi("What competition did the colleague who took me climbing for my first V3 sign me "
          "up for?", ("climb_v3", "competition"), "Jonah", "bouldering competition"),
    multi("What did the person who bet against my bread cook when my tooth was cracked?",
          ("partner", "garlic_soup"), "bet", "garlic soup"),

    temporal("What did I cook last week?", ("cook_shakshuka",), "2026-03-19", "shakshuka"),
    temporal("What did I say about the dentist in May?", ("crown_fitted",), None,
             "Crown fitted"),
    temporal("What did the dentist say in February?", ("crown_needed",), None,
             "needs a crown"),
    temporal("What did I make for dinner yesterday?", ("cook_curry",), "2026-06-15",
             "green curry"),
    temporal("What did I cook two weeks ago?", ("cook_gazpacho",), "2026-07-15", "gazpacho"),
    temporal("What happened with my car in February?", ("mot_fail",), None,
             "failed its MOT"),
    temporal("What news did I get at work in March?", ("promotion",), None, "promoted"),
    temporal("How was my mum doing in August?", ("mum_better",), None, "under control"),
    temporal("What was going on with my mum in April?", ("mum_dizzy", "mum_gp"), None,
             "dizzy"),
    temporal("Where did we travel in July?", ("pembs_camping",), None, "Pembrokeshire"),
    temporal("What did I cook in January?", ("cook_dal",), None, "dal"),
    temporal("How did climbing go in May?", ("v4",), None, "V4"),
    temporal("How did climbing go in January?", ("climb_v3",), None, "V3"),
    temporal("What happened to Biscuit in July?", ("biscuit_corn",), None, "corn cob"),
    temporal("What did I tell you about Ines last week?", ("school_play",), "2026-03-18",
             "narrator"),
    temporal("What did I bake last week?", ("cook_cake",), "2026-08-20", "beetroot cake"),
    temporal("What did I say about running in March?", ("knee",), None, "running"),
    temporal("How was my knee in May?", ("knee_fine",), None, "knee feels fine"),
    temporal("How was my Italian class in May?", ("italian_verbs",), None, "verbs"),
    temporal("How did my Italian go in August?", ("italian_exam",), None, "A2"),
    temporal("What was I working on at the office in June?", ("fourteen_buttons",), None,
             "audit"),
    temporal("What happened at work yesterday?", ("aisha_findings",), "2026-07-02",
             "research findings"),
    temporal("What was the weather like last week?", ("heat",), "2026-07-06", "31 degrees"),
    temporal("What went wrong in the house in January?", ("boiler_dead", "boiler"), None,
             "boiler"),
    temporal("What did I tell you about the kitchen in July?", ("kitchen_quote1", "marek"),
             None, "18,000", "14,500"),
    temporal("What went wrong on our trip last week?", ("pembs_camping", "tent_leak"),
             "2026-07-30", "rained", "leaked"),
    temporal("Which trip did I book in March?", ("lisbon_booking",), None, "Lisbon"),
    temporal("What did I buy in March?", ("new_car",), None, "Yaris"),
    temporal("What did Tomás cook in February?", ("garlic_soup",), None, "garlic soup"),
    temporal("What health problem did I have in June?", ("hayfever",), None, "hay fever"),
    temporal("What did I tell you about Biscuit yesterday?", ("dog", "dog_breed"),
             "2026-01-10", "Biscuit", "beagle"),
    temporal("What did I tell you about work ten days ago?", ("driver_app",), "2026-02-06",
             "driver app"),
    temporal("What did we celebrate last week?", ("paella_success", "tomas_loved"),
             "2026-04-30", "party", "present"),
    temporal("What did I tell you about Ines's school in March?",
             ("school_play", "play_went"), None, "narrator", "show"),
    temporal("What did we decide about the kitchen last week?", ("kitchen_decision",),
             "2026-09-07", "Marek"),
    temporal("What did I bake in July?", ("banana_bread",), None, "banana bread"),
    temporal("What did I say about the dentist in July?", ("ines_checkup",), None,
             "check-up"),
    temporal("Where did we go in April?", ("leeds_mpg",), None, "Leeds"),
]


def conversation() -> tuple[list[dict[str, str]], dict[str, dict[str, str]]]:
    """The messages in import format, and each label's message."""
    rows: list[dict[str, str]] = []
    labelled: dict[str, dict[str, str]] = {}
    for number, (start, turns) in enumerate(SESSIONS, start=1):
        begin = datetime.datetime.fromisoformat(start).replace(tzinfo=datetime.UTC)
        for index, turn in enumerate(turns, start=1):
            at = begin + datetime.timedelta(minutes=MINUTES_BETWEEN_MESSAGES * (index - 1))
            row = {"id": f"s{number:02d}-m{index:02d}", "role": turn.role,
                   "t": at.isoformat(), "text": turn.text}
            rows.append(row)
            if turn.label is not None:
                if turn.label in labelled:
                    raise ValueError(f"label {turn.label!r} is used twice")
                labelled[turn.label] = row
    return rows, labelled


def questions(labelled: dict[str, dict[str, str]]) -> list[dict[str, object]]:
    """The questions with evidence ids, after checking each answer is in its evidence."""
    rows: list[dict[str, object]] = []
    for question in QUESTIONS:
        missing = [label for label in question.evidence if label not in labelled]
        if missing:
            raise ValueError(f"{question.q!r}: unknown evidence {missing}")
        evidence = [labelled[label] for label in question.evidence]
        haystack = " ".join(f"{row['t'][:10]} {row['text']}" for row in evidence).lower()
        absent = [word for word in question.answer if word.lower() not in haystack]
        if absent:
            raise ValueError(f"{question.q!r}: the evidence does not contain {absent}")
        sessions = {row["id"].split("-")[0] for row in evidence}
        if question.type == "multi-hop" and len(sessions) < 2:
            raise ValueError(f"{question.q!r}: multi-hop evidence must span sessions")
        rows.append({"q": question.q, "type": question.type,
                     "evidence": [row["id"] for row in evidence], "now": question.now,
                     "answer": list(question.answer)})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, object]] | list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                    encoding="utf-8")


def main() -> None:
    messages, labelled = conversation()
    rows = questions(labelled)
    write_jsonl(HERE / "conversation.jsonl", messages)
    write_jsonl(HERE / "questions.jsonl", rows)
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row["type"])] = counts.get(str(row["type"]), 0) + 1
    print(f"{len(SESSIONS)} sessions, {len(messages)} messages, {len(rows)} questions {counts}")


if __name__ == "__main__":
    main()

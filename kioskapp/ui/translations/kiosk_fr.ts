<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="fr" sourcelanguage="en">
<context>
    <name>kiosk</name>
    <message>
        <location filename="../texts.py" line="+31"/>
        <source>Language</source>
        <translation>Langue</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>High contrast</source>
        <translation>Contraste élevé</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Large text</source>
        <translation>Grands caractères</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Cancel</source>
        <translation>Annuler</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Back</source>
        <translation>Retour</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please wait…</source>
        <translation>Veuillez patienter…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk is starting. One moment, please.</source>
        <translation>La borne démarre. Un instant, s’il vous plaît.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Welcome</source>
        <translation>Bienvenue</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Cashback cards, paid by cash or card. Receipt included.</source>
        <translation>Cartes cashback&#x202f;: paiement en espèces ou par carte. Ticket fourni.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Touch the screen to start</source>
        <translation>Touchez l’écran pour commencer</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Start</source>
        <translation>Commencer</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Choose your language</source>
        <translation>Choisissez votre langue</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Out of service</source>
        <translation>Hors service</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Sorry, this kiosk cannot serve you right now. Staff have been told.</source>
        <translation>Nous sommes désolés&#x202f;: cette borne est momentanément indisponible. Le personnel a été prévenu.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The kiosk hardware is not answering.</source>
        <translation>Le matériel de la borne ne répond pas.</translation>
    </message>
    <message>
        <location line="+3"/>
        <location line="+177"/>
        <source>No way to pay is working at the moment.</source>
        <translation>Aucun moyen de paiement n’est disponible pour le moment.</translation>
    </message>
    <message>
        <location line="-174"/>
        <source>There is nothing this kiosk can sell at the moment.</source>
        <translation>Aucun produit n’est disponible pour le moment.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The card dispenser needs attention.</source>
        <translation>Le distributeur de cartes nécessite une intervention.</translation>
    </message>
    <message>
        <location line="+3"/>
        <location line="+182"/>
        <source>The card dispenser is not answering.</source>
        <translation>Le distributeur de cartes ne répond pas.</translation>
    </message>
    <message>
        <location line="-179"/>
        <location line="+176"/>
        <source>The card dispenser is empty.</source>
        <translation>Le distributeur de cartes est vide.</translation>
    </message>
    <message>
        <location line="-175"/>
        <location line="+176"/>
        <source>The card dispenser is jammed.</source>
        <translation>Le distributeur de cartes est bloqué.</translation>
    </message>
    <message>
        <location line="-175"/>
        <location line="+172"/>
        <source>The kiosk had an internal error.</source>
        <translation>La borne a rencontré une erreur interne.</translation>
    </message>
    <message>
        <location line="-171"/>
        <source>The kiosk is being serviced.</source>
        <translation>La borne est en maintenance.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Getting ready</source>
        <translation>Préparation en cours</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>What would you like?</source>
        <translation>Que souhaitez-vous acheter&#x202f;?</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Not available now</source>
        <translation>Indisponible pour le moment</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>ID document needed</source>
        <translation>Pièce d’identité requise</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>That product is not available right now. Please choose another.</source>
        <translation>Ce produit n’est pas disponible pour le moment. Veuillez en choisir un autre.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Your cashback card</source>
        <translation>Votre carte cashback</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Do you have a cashback card? Its balance can pay part of the price.</source>
        <translation>Avez-vous une carte cashback&#x202f;? Son solde peut régler une partie du prix.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Yes, use my card</source>
        <translation>Oui, utiliser ma carte</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>No, continue</source>
        <translation>Non, continuer</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Type the number printed on your card</source>
        <translation>Saisissez le numéro imprimé sur votre carte</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>or hold your card to the reader</source>
        <translation>ou approchez votre carte du lecteur</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Swipe it on the terminal</source>
        <translation>Passer la carte dans le terminal</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Looking up your card…</source>
        <translation>Recherche de votre carte…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Swipe your card on the payment terminal</source>
        <translation>Passez votre carte dans le terminal de paiement</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Card {number}</source>
        <translation>Carte {number}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Balance: {amount}</source>
        <translation>Solde&#x202f;: {amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Use {amount} of it for this purchase?</source>
        <translation>Utiliser {amount} pour cet achat&#x202f;?</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Use my balance</source>
        <translation>Utiliser mon solde</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Keep my balance</source>
        <translation>Garder mon solde</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+121"/>
        <source>OK</source>
        <translation>OK</translation>
    </message>
    <message>
        <location line="-120"/>
        <source>Delete</source>
        <translation>Effacer</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>We could not find that card. Check the number and try again.</source>
        <translation>Nous n’avons pas trouvé cette carte. Vérifiez le numéro et réessayez.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>That card has expired.</source>
        <translation>Cette carte a expiré.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>That card cannot be used here.</source>
        <translation>Cette carte ne peut pas être utilisée ici.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card&apos;s balance is not enough for that.</source>
        <translation>Le solde de la carte est insuffisant.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>That is not a card number. Please check it and try again.</source>
        <translation>Ce numéro de carte n’est pas valide. Vérifiez-le et réessayez.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>No card was read. You can try again.</source>
        <translation>Aucune carte n’a été lue. Vous pouvez réessayer.</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+1"/>
        <source>The card could not be read. Try again.</source>
        <translation>La carte n’a pas pu être lue. Veuillez réessayer.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Scan your ID document</source>
        <translation>Scannez votre pièce d’identité</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Place your ID document face down on the scanner.</source>
        <translation>Posez votre pièce d’identité sur le scanner, face vers le bas.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Is your ID easy to read?</source>
        <translation>Votre pièce d’identité est-elle bien lisible&#x202f;?</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Yes, continue</source>
        <translation>Oui, continuer</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Scan again</source>
        <translation>Scanner à nouveau</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please scan your ID document again.</source>
        <translation>Veuillez scanner à nouveau votre pièce d’identité.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Preparing your card</source>
        <translation>Préparation de votre carte</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>This takes a few seconds.</source>
        <translation>Cela ne prend que quelques secondes.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>How would you like to pay?</source>
        <translation>Comment souhaitez-vous payer&#x202f;?</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>To pay: {amount}</source>
        <translation>À payer&#x202f;: {amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Cashback used: {amount}</source>
        <translation>Cashback utilisé&#x202f;: {amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Cash</source>
        <translation>Espèces</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Banknotes only, no change given</source>
        <translation>Billets uniquement, pas de rendu de monnaie</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Card</source>
        <translation>Carte</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Debit or credit card, contactless</source>
        <translation>Carte de débit ou de crédit, sans contact</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Pay the rest by card</source>
        <translation>Payer le reste par carte</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Insert your banknotes</source>
        <translation>Insérez vos billets</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>This kiosk gives no change: a note larger than the amount left is returned.</source>
        <translation>Cette borne ne rend pas la monnaie&#x202f;: un billet supérieur au reste à payer est rendu.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Amount due</source>
        <translation>Montant à payer</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Inserted</source>
        <translation>Inséré</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Remaining</source>
        <translation>Reste à payer</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Checking your {amount} note…</source>
        <translation>Vérification de votre billet de {amount}…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>{amount} accepted. Thank you.</source>
        <translation>Billet de {amount} accepté. Merci.</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+26"/>
        <source>Checking your note…</source>
        <translation>Vérification de votre billet…</translation>
    </message>
    <message>
        <location line="-25"/>
        <source>{amount} returned: it is more than the amount left. Please take it.</source>
        <translation>Billet de {amount} rendu&#x202f;: il dépasse le reste à payer. Veuillez le reprendre.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Note returned: it was not recognised. Please take it.</source>
        <translation>Billet rendu&#x202f;: il n’a pas été reconnu. Veuillez le reprendre.</translation>
    </message>
    <message>
        <location line="+3"/>
        <location line="+1"/>
        <location line="+1"/>
        <location line="+1"/>
        <location line="+1"/>
        <source>Note returned. Please take it.</source>
        <translation>Billet rendu. Veuillez le reprendre.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Pay by card</source>
        <translation>Paiement par carte</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Amount: {amount}</source>
        <translation>Montant&#x202f;: {amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Connecting to the card terminal…</source>
        <translation>Connexion au terminal de paiement…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Present your card on the terminal below the screen.</source>
        <translation>Présentez votre carte sur le terminal de paiement situé sous l’écran.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Card read. One moment…</source>
        <translation>Carte lue. Un instant…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Enter your PIN on the terminal.</source>
        <translation>Composez votre code confidentiel sur le terminal.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Authorising with your bank. Do not remove your card.</source>
        <translation>Autorisation auprès de votre banque. Ne retirez pas votre carte.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Cancelling the payment…</source>
        <translation>Annulation du paiement…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Payment finished.</source>
        <translation>Paiement terminé.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Note accepted.</source>
        <translation>Billet accepté.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Note returned.</source>
        <translation>Billet rendu.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The payment was declined. You can try again or pay another way.</source>
        <translation>Le paiement a été refusé. Vous pouvez réessayer ou payer autrement.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The payment took too long and was stopped. You have not been charged.</source>
        <translation>Le paiement a pris trop de temps et a été interrompu. Aucun montant ne vous a été débité.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The payment was cancelled.</source>
        <translation>Le paiement a été annulé.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The payment did not go through. Please try again or pay another way.</source>
        <translation>Le paiement n’a pas abouti. Veuillez réessayer ou payer autrement.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The payment is being authorised and cannot be cancelled now.</source>
        <translation>Le paiement est en cours d’autorisation et ne peut plus être annulé.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Using your cashback balance…</source>
        <translation>Utilisation de votre solde cashback…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Your card is coming out</source>
        <translation>Votre carte va sortir</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please take your card from the slot.</source>
        <translation>Veuillez retirer votre carte de la fente.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Printing your receipt…</source>
        <translation>Impression de votre ticket…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Thank you!</source>
        <translation>Merci&#x202f;!</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please take your card and your receipt.</source>
        <translation>N’oubliez pas votre carte et votre ticket.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Done</source>
        <translation>Terminer</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The printer is not working: here is your receipt. Scan the code to keep it.</source>
        <translation>L’imprimante ne fonctionne pas&#x202f;: voici votre ticket. Scannez le code pour le conserver.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The printer is not working: here is your refund voucher. Take a photo of it.</source>
        <translation>L’imprimante ne fonctionne pas&#x202f;: voici votre bon de remboursement. Prenez-le en photo.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Cancelling…</source>
        <translation>Annulation en cours…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Anything you paid is being given back. Please wait.</source>
        <translation>Nous vous rendons ce que vous avez payé. Veuillez patienter.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Sorry</source>
        <translation>Nous sommes désolés</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>You can start again when you are ready.</source>
        <translation>Vous pouvez recommencer quand vous le souhaitez.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please ask a member of staff for help. The kiosk has recorded what happened.</source>
        <translation>Veuillez demander de l’aide à un membre du personnel. La borne a enregistré ce qui s’est passé.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Nothing was charged.</source>
        <translation>Aucun montant ne vous a été débité.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Given back: {amount}</source>
        <translation>Remboursé&#x202f;: {amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Keep your refund voucher: staff will pay it back.</source>
        <translation>Gardez votre bon de remboursement&#x202f;: le personnel vous remboursera.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Staff will return {amount} to you. Keep your reference: {sale}</source>
        <translation>Le personnel vous rendra {amount}. Notez votre référence&#x202f;: {sale}</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Your purchase was cancelled.</source>
        <translation>Votre achat a été annulé.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Your purchase could not be finished. A refund voucher was issued.</source>
        <translation>Votre achat n’a pas pu aboutir. Un bon de remboursement a été émis.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Your purchase could not be finished and your money could not be returned.</source>
        <translation>Votre achat n’a pas pu aboutir et votre argent n’a pas pu vous être rendu.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>We could not confirm your card payment.</source>
        <translation>Nous n’avons pas pu confirmer votre paiement par carte.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>We could not confirm all the notes you inserted. Staff will check the banknote reader and give back what is yours.</source>
        <translation>Nous n’avons pas pu confirmer tous les billets que vous avez insérés. Le personnel vérifiera le lecteur de billets et vous rendra ce qui vous revient.</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Your payment could not be refunded.</source>
        <translation>Votre paiement n’a pas pu être remboursé.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>We could not confirm the use of your cashback balance.</source>
        <translation>Nous n’avons pas pu confirmer l’utilisation de votre solde cashback.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Your cashback balance could not be used.</source>
        <translation>Votre solde cashback n’a pas pu être utilisé.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk took too long to respond.</source>
        <translation>La borne a mis trop de temps à répondre.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk hardware is busy.</source>
        <translation>Le matériel de la borne est occupé.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk hardware stopped responding.</source>
        <translation>Le matériel de la borne ne répond plus.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Cancelled.</source>
        <translation>Opération annulée.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The card dispenser has a fault.</source>
        <translation>Le distributeur de cartes est en panne.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>The new card could not be read.</source>
        <translation>La nouvelle carte n’a pas pu être lue.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card dispenser is out of service.</source>
        <translation>Le distributeur de cartes est hors service.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>We could not confirm your card came out.</source>
        <translation>Nous n’avons pas pu confirmer la sortie de votre carte.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The printer is out of paper.</source>
        <translation>L’imprimante n’a plus de papier.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The printer is not answering.</source>
        <translation>L’imprimante ne répond pas.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The banknote reader is jammed.</source>
        <translation>Le lecteur de billets est bloqué.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The banknote reader is full.</source>
        <translation>Le lecteur de billets est plein.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The banknote reader has a fault.</source>
        <translation>Le lecteur de billets est en panne.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The banknote reader is not answering.</source>
        <translation>Le lecteur de billets ne répond pas.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The ID scanner is not answering.</source>
        <translation>Le scanner de pièces d’identité ne répond pas.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card terminal is busy.</source>
        <translation>Le terminal de paiement est occupé.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card terminal is not answering.</source>
        <translation>Le terminal de paiement ne répond pas.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card terminal refused the request.</source>
        <translation>Le terminal de paiement a refusé l’opération.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card reader is not answering.</source>
        <translation>Le lecteur de cartes ne répond pas.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A device of the kiosk is not answering.</source>
        <translation>Un appareil de la borne ne répond pas.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A service refused the kiosk&apos;s access.</source>
        <translation>Un service a refusé l’accès à la borne.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A service cannot be reached.</source>
        <translation>Un service est injoignable.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A service gave an answer we cannot read.</source>
        <translation>Un service a envoyé une réponse incompréhensible.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A service reported an error.</source>
        <translation>Un service a signalé une erreur.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk is not set up correctly.</source>
        <translation>La borne n’est pas configurée correctement.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Are you still there?</source>
        <translation>Êtes-vous toujours là&#x202f;?</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>This will end in {seconds} seconds.</source>
        <translation>L’opération prendra fin dans {seconds} secondes.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>More time</source>
        <translation>Plus de temps</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Remaining: {amount}</source>
        <translation>Reste à payer&#x202f;: {amount}</translation>
    </message>
</context>
</TS>

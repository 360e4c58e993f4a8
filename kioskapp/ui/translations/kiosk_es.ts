<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="es" sourcelanguage="en">
<context>
    <name>kiosk</name>
    <message>
        <location filename="../texts.py" line="+31"/>
        <source>Language</source>
        <translation>Idioma</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>High contrast</source>
        <translation>Alto contraste</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Large text</source>
        <translation>Texto grande</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Cancel</source>
        <translation>Cancelar</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Back</source>
        <translation>Volver</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please wait…</source>
        <translation>Espera un momento…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk is starting. One moment, please.</source>
        <translation>El quiosco se está iniciando. Un momento, por favor.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Welcome</source>
        <translation>Te damos la bienvenida</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Cashback cards, paid by cash or card. Receipt included.</source>
        <translation>Tarjetas cashback: paga en efectivo o con tarjeta. Recibo incluido.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Touch the screen to start</source>
        <translation>Toca la pantalla para empezar</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Start</source>
        <translation>Empezar</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Choose your language</source>
        <translation>Elige tu idioma</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Out of service</source>
        <translation>Fuera de servicio</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Sorry, this kiosk cannot serve you right now. Staff have been told.</source>
        <translation>Lo sentimos, este quiosco no puede atenderte ahora. Ya hemos avisado al personal.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The kiosk hardware is not answering.</source>
        <translation>El equipo del quiosco no responde.</translation>
    </message>
    <message>
        <location line="+3"/>
        <location line="+177"/>
        <source>No way to pay is working at the moment.</source>
        <translation>En este momento no hay ningún medio de pago disponible.</translation>
    </message>
    <message>
        <location line="-174"/>
        <source>There is nothing this kiosk can sell at the moment.</source>
        <translation>En este momento no hay ningún producto disponible.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The card dispenser needs attention.</source>
        <translation>El dispensador de tarjetas necesita revisión.</translation>
    </message>
    <message>
        <location line="+3"/>
        <location line="+182"/>
        <source>The card dispenser is not answering.</source>
        <translation>El dispensador de tarjetas no responde.</translation>
    </message>
    <message>
        <location line="-179"/>
        <location line="+176"/>
        <source>The card dispenser is empty.</source>
        <translation>No quedan tarjetas en el dispensador.</translation>
    </message>
    <message>
        <location line="-175"/>
        <location line="+176"/>
        <source>The card dispenser is jammed.</source>
        <translation>El dispensador de tarjetas está atascado.</translation>
    </message>
    <message>
        <location line="-175"/>
        <location line="+172"/>
        <source>The kiosk had an internal error.</source>
        <translation>Se ha producido un error interno en el quiosco.</translation>
    </message>
    <message>
        <location line="-171"/>
        <source>The kiosk is being serviced.</source>
        <translation>El quiosco está en mantenimiento.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Getting ready</source>
        <translation>Preparándolo todo</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>What would you like?</source>
        <translation>¿Qué quieres comprar?</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Not available now</source>
        <translation>No disponible ahora</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>ID document needed</source>
        <translation>Requiere documento de identidad</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>That product is not available right now. Please choose another.</source>
        <translation>Ese producto no está disponible en este momento. Elige otro, por favor.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Your cashback card</source>
        <translation>Tu tarjeta cashback</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Do you have a cashback card? Its balance can pay part of the price.</source>
        <translation>¿Tienes una tarjeta cashback? Puedes usar su saldo para pagar parte del precio.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Yes, use my card</source>
        <translation>Sí, usar mi tarjeta</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>No, continue</source>
        <translation>No, continuar</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Type the number printed on your card</source>
        <translation>Introduce el número impreso en tu tarjeta</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>or hold your card to the reader</source>
        <translation>o acerca tu tarjeta al lector</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Swipe it on the terminal</source>
        <translation>Pasar la tarjeta por el datáfono</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Looking up your card…</source>
        <translation>Buscando tu tarjeta…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Swipe your card on the payment terminal</source>
        <translation>Pasa tu tarjeta por el datáfono</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Card {number}</source>
        <translation>Tarjeta {number}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Balance: {amount}</source>
        <translation>Saldo: {amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Use {amount} of it for this purchase?</source>
        <translation>¿Quieres usar {amount} en esta compra?</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Use my balance</source>
        <translation>Usar mi saldo</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Keep my balance</source>
        <translation>Conservar mi saldo</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+121"/>
        <source>OK</source>
        <translation>Aceptar</translation>
    </message>
    <message>
        <location line="-120"/>
        <source>Delete</source>
        <translation>Borrar</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>We could not find that card. Check the number and try again.</source>
        <translation>No hemos encontrado esa tarjeta. Comprueba el número e inténtalo de nuevo.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>That card has expired.</source>
        <translation>Esa tarjeta ha caducado.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>That card cannot be used here.</source>
        <translation>Esa tarjeta no se puede usar aquí.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card&apos;s balance is not enough for that.</source>
        <translation>El saldo de la tarjeta no es suficiente.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>That is not a card number. Please check it and try again.</source>
        <translation>Ese número de tarjeta no es válido. Compruébalo e inténtalo de nuevo.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>No card was read. You can try again.</source>
        <translation>No se ha leído ninguna tarjeta. Puedes volver a intentarlo.</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+1"/>
        <source>The card could not be read. Try again.</source>
        <translation>No se ha podido leer la tarjeta. Inténtalo de nuevo.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Scan your ID document</source>
        <translation>Escanea tu documento de identidad</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Place your ID document face down on the scanner.</source>
        <translation>Coloca tu documento de identidad boca abajo en el escáner.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Is your ID easy to read?</source>
        <translation>¿Se lee bien tu documento?</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Yes, continue</source>
        <translation>Sí, continuar</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Scan again</source>
        <translation>Volver a escanear</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please scan your ID document again.</source>
        <translation>Vuelve a escanear tu documento de identidad, por favor.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Preparing your card</source>
        <translation>Preparando tu tarjeta</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>This takes a few seconds.</source>
        <translation>Solo tardará unos segundos.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>How would you like to pay?</source>
        <translation>¿Cómo quieres pagar?</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>To pay: {amount}</source>
        <translation>A pagar: {amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Cashback used: {amount}</source>
        <translation>Saldo cashback aplicado: {amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Cash</source>
        <translation>Efectivo</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Banknotes only, no change given</source>
        <translation>Solo billetes, no se da cambio</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Card</source>
        <translation>Tarjeta</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Debit or credit card, contactless</source>
        <translation>Tarjeta de débito o crédito, también sin contacto</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Pay the rest by card</source>
        <translation>Pagar el resto con tarjeta</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Insert your banknotes</source>
        <translation>Introduce tus billetes</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>This kiosk gives no change: a note larger than the amount left is returned.</source>
        <translation>Este quiosco no da cambio: si un billete supera el importe pendiente, se devuelve.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Amount due</source>
        <translation>Importe a pagar</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Inserted</source>
        <translation>Introducido</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Remaining</source>
        <translation>Pendiente</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Checking your {amount} note…</source>
        <translation>Comprobando tu billete de {amount}…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>{amount} accepted. Thank you.</source>
        <translation>Billete de {amount} aceptado. Gracias.</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+26"/>
        <source>Checking your note…</source>
        <translation>Comprobando tu billete…</translation>
    </message>
    <message>
        <location line="-25"/>
        <source>{amount} returned: it is more than the amount left. Please take it.</source>
        <translation>Billete de {amount} devuelto: supera el importe pendiente. Recógelo, por favor.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Note returned: it was not recognised. Please take it.</source>
        <translation>Billete devuelto: no se ha reconocido. Recógelo, por favor.</translation>
    </message>
    <message>
        <location line="+3"/>
        <location line="+1"/>
        <location line="+1"/>
        <location line="+1"/>
        <location line="+1"/>
        <source>Note returned. Please take it.</source>
        <translation>Billete devuelto. Recógelo, por favor.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Pay by card</source>
        <translation>Pago con tarjeta</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Amount: {amount}</source>
        <translation>Importe: {amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Connecting to the card terminal…</source>
        <translation>Conectando con el datáfono…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Present your card on the terminal below the screen.</source>
        <translation>Acerca o inserta tu tarjeta en el datáfono situado bajo la pantalla.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Card read. One moment…</source>
        <translation>Tarjeta leída. Un momento…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Enter your PIN on the terminal.</source>
        <translation>Introduce tu PIN en el datáfono.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Authorising with your bank. Do not remove your card.</source>
        <translation>Autorizando con tu banco. No retires la tarjeta.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Cancelling the payment…</source>
        <translation>Cancelando el pago…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Payment finished.</source>
        <translation>Pago completado.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Note accepted.</source>
        <translation>Billete aceptado.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Note returned.</source>
        <translation>Billete devuelto.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The payment was declined. You can try again or pay another way.</source>
        <translation>Se ha rechazado el pago. Puedes volver a intentarlo o pagar de otra forma.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The payment took too long and was stopped. You have not been charged.</source>
        <translation>El pago ha tardado demasiado y se ha interrumpido. No se te ha cobrado nada.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The payment was cancelled.</source>
        <translation>Se ha cancelado el pago.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The payment did not go through. Please try again or pay another way.</source>
        <translation>No se ha podido completar el pago. Vuelve a intentarlo o paga de otra forma.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The payment is being authorised and cannot be cancelled now.</source>
        <translation>El pago se está autorizando y ya no se puede cancelar.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Using your cashback balance…</source>
        <translation>Aplicando tu saldo cashback…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Your card is coming out</source>
        <translation>Tu tarjeta está saliendo</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please take your card from the slot.</source>
        <translation>Recoge tu tarjeta de la ranura.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Printing your receipt…</source>
        <translation>Imprimiendo tu recibo…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Thank you!</source>
        <translation>¡Gracias!</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please take your card and your receipt.</source>
        <translation>Recoge tu tarjeta y tu recibo.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Done</source>
        <translation>Finalizar</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The printer is not working: here is your receipt. Scan the code to keep it.</source>
        <translation>La impresora no funciona: aquí tienes tu recibo. Escanea el código para guardarlo.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The printer is not working: here is your refund voucher. Take a photo of it.</source>
        <translation>La impresora no funciona: aquí tienes tu vale de reembolso. Hazle una foto.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Cancelling…</source>
        <translation>Cancelando…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Anything you paid is being given back. Please wait.</source>
        <translation>Te estamos devolviendo lo que has pagado. Espera, por favor.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Sorry</source>
        <translation>Lo sentimos</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>You can start again when you are ready.</source>
        <translation>Puedes volver a empezar cuando quieras.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please ask a member of staff for help. The kiosk has recorded what happened.</source>
        <translation>Pide ayuda a un miembro del personal. El quiosco ha registrado lo ocurrido.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Nothing was charged.</source>
        <translation>No se te ha cobrado nada.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Given back: {amount}</source>
        <translation>Importe devuelto: {amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Keep your refund voucher: staff will pay it back.</source>
        <translation>Conserva tu vale de reembolso: el personal te devolverá el importe.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Staff will return {amount} to you. Keep your reference: {sale}</source>
        <translation>El personal te devolverá {amount}. Anota tu referencia: {sale}</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Your purchase was cancelled.</source>
        <translation>Se ha cancelado tu compra.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Your purchase could not be finished. A refund voucher was issued.</source>
        <translation>No se ha podido completar tu compra. Se ha emitido un vale de reembolso.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Your purchase could not be finished and your money could not be returned.</source>
        <translation>No se ha podido completar tu compra ni devolverte el dinero.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>We could not confirm your card payment.</source>
        <translation>No hemos podido confirmar tu pago con tarjeta.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>We could not confirm all the notes you inserted. Staff will check the banknote reader and give back what is yours.</source>
        <translation>No hemos podido confirmar todos los billetes que has introducido. El personal revisará el lector de billetes y te devolverá lo que es tuyo.</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Your payment could not be refunded.</source>
        <translation>No se ha podido reembolsar tu pago.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>We could not confirm the use of your cashback balance.</source>
        <translation>No hemos podido confirmar el uso de tu saldo cashback.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Your cashback balance could not be used.</source>
        <translation>No se ha podido usar tu saldo cashback.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk took too long to respond.</source>
        <translation>El quiosco ha tardado demasiado en responder.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk hardware is busy.</source>
        <translation>El equipo del quiosco está ocupado.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk hardware stopped responding.</source>
        <translation>El equipo del quiosco ha dejado de responder.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Cancelled.</source>
        <translation>Operación cancelada.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The card dispenser has a fault.</source>
        <translation>El dispensador de tarjetas tiene una avería.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>The new card could not be read.</source>
        <translation>No se ha podido leer la tarjeta nueva.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card dispenser is out of service.</source>
        <translation>El dispensador de tarjetas está fuera de servicio.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>We could not confirm your card came out.</source>
        <translation>No hemos podido confirmar que tu tarjeta haya salido.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The printer is out of paper.</source>
        <translation>La impresora no tiene papel.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The printer is not answering.</source>
        <translation>La impresora no responde.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The banknote reader is jammed.</source>
        <translation>El lector de billetes está atascado.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The banknote reader is full.</source>
        <translation>El lector de billetes está lleno.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The banknote reader has a fault.</source>
        <translation>El lector de billetes tiene una avería.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The banknote reader is not answering.</source>
        <translation>El lector de billetes no responde.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The ID scanner is not answering.</source>
        <translation>El escáner de documentos no responde.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card terminal is busy.</source>
        <translation>El datáfono está ocupado.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card terminal is not answering.</source>
        <translation>El datáfono no responde.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card terminal refused the request.</source>
        <translation>El datáfono ha rechazado la operación.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card reader is not answering.</source>
        <translation>El lector de tarjetas no responde.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A device of the kiosk is not answering.</source>
        <translation>Un dispositivo del quiosco no responde.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A service refused the kiosk&apos;s access.</source>
        <translation>Un servicio ha denegado el acceso al quiosco.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A service cannot be reached.</source>
        <translation>No se puede conectar con un servicio.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A service gave an answer we cannot read.</source>
        <translation>Un servicio ha enviado una respuesta que no podemos interpretar.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A service reported an error.</source>
        <translation>Un servicio ha informado de un error.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk is not set up correctly.</source>
        <translation>El quiosco no está configurado correctamente.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Are you still there?</source>
        <translation>¿Sigues ahí?</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>This will end in {seconds} seconds.</source>
        <translation>La operación terminará en {seconds} segundos.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>More time</source>
        <translation>Más tiempo</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Remaining: {amount}</source>
        <translation>Pendiente: {amount}</translation>
    </message>
</context>
</TS>
